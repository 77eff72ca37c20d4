"""The official Python SDK (pip install flowscale) against our simulator.

Usage: start `cargo run --example mock_server -- --port PORT`, then
    FLOWSCALE_API_URL=http://127.0.0.1:PORT FLOWSCALE_API_KEY=mock-api-key python3 tests/python/sdk_against_mock.py

Exercises every method of the Python SDK and checks each answer; exits non-zero on the
first mismatch. (execute_workflow_async of 1.0.1 expects a `filename` in the execute
response, which no FlowScale server generation sends; it is not exercised.)
"""
import os
import pathlib
import sys
import time

from flowscale import FlowscaleAPI

url = os.environ["FLOWSCALE_API_URL"]
key = os.environ["FLOWSCALE_API_KEY"]
fixtures = pathlib.Path(__file__).resolve().parent.parent / "data" / "fixtures"
api = FlowscaleAPI(key, url)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


health = api.check_health()
check(health["status"] == "success" and health["data"][0]["status"] in ("idle", "running"), "check_health")

queue = api.get_queue()
check(queue["status"] == "success" and "queue_running" in queue["data"][0]["queue"], "get_queue")

run = api.execute_workflow(
    "wf1",
    {"text_51536": "a cat", "seed_1": 42, "image_35728": str(fixtures / "cat.png")},
    group_id="py_group",
)
check(run["status"] == "success" and run["data"]["run_id"], "execute_workflow with text, number and file")
run_id = run["data"]["run_id"]

detail = api.get_run(run_id)
check(detail["data"]["_id"] == run_id and detail["data"]["group_id"] == "py_group", "get_run")
names = detail["data"]["output_names"]
check(len(names) == 2, "the run lists its output names")
files = [i for i in detail["data"]["inputs"] if i["path"] == "image_35728"]
check(files and files[0]["value"] == "cat.png", "the uploaded file was stored with its name")

for _ in range(200):
    if api.get_run(run_id)["data"]["status"] == "completed":
        break
    time.sleep(0.05)
out = api.get_output(names[0])
check(out is not None and out["data"]["download_url"].startswith(url), "get_output after completion")

runs = api.get_runs(group_id="py_group")
check(runs["status"] == "success" and runs["data"]["runs"][0]["_id"] == run_id, "get_runs filtered by group")

slow = api.execute_workflow("bncu0a1kipv", {"text_51536": "slow"})["data"]["run_id"]
check(api.get_output(api.get_run(slow)["data"]["output_names"][0]) is None, "get_output before completion is None (204)")
cancel = api.cancel_run(slow)
check(cancel["data"] == "Run cancelled successfully", "cancel_run")
check(api.get_run(slow)["data"]["status"] == "cancelled", "the cancelled run says so")
print("python SDK: all methods work against the simulator")
