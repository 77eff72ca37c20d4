"""The official Python SDK (pip install flowscale) against our simulator, following the
SDK's own README (flowscale 1.0.1) literally: the same calls, in its order, reading the keys
its response examples show, `output_names` from the execute answer included.

Usage: start `cargo run --example mock_server -- --port PORT` (default answer shapes), then
    FLOWSCALE_API_URL=http://127.0.0.1:PORT FLOWSCALE_API_KEY=mock-api-key python3 tests/python/sdk_against_mock.py

Exits non-zero on the first mismatch. (execute_workflow_async of 1.0.1 expects a `filename`
in the execute response, which no FlowScale server generation sends; it is not exercised.)
"""
import os
import pathlib
import sys
import time

from flowscale import FlowscaleAPI

fixtures = pathlib.Path(__file__).resolve().parent.parent / "data" / "fixtures"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


# README, "Importing the SDK".
api_key = os.environ.get("FLOWSCALE_API_KEY")
api_url = os.environ.get("FLOWSCALE_API_URL")

if not api_key or not api_url:
    print("FLOWSCALE_API_KEY or FLOWSCALE_API_URL not set in environment")
    exit(1)

flowscale = FlowscaleAPI(api_key, api_url)

# 1. check_health(): {"status": "success", "data": [{"container", "status"}]}
health = flowscale.check_health()
print(f"API Health: {health}")
check(health["status"] == "success", "check_health answers success")
check(all(c["container"] and c["status"] in ("idle", "running") for c in health["data"]),
      "check_health: every entry has `container` and `status`")

# 2. get_queue(): [{"container", "queue": {"queue_running", "queue_pending"}}]
queue = flowscale.get_queue()
print(f"Queue Details: {queue}")
check(all("container" in c and "queue_running" in c["queue"] and "queue_pending" in c["queue"]
          for c in queue["data"]), "get_queue: `container` and both queues")

# 3. execute_workflow(workflow_id, data, group_id), with the README's three kinds of input:
# text, an open file, and a string path the SDK detects and opens.
workflow_id = "bncu0a1kipv"
group_id = "test_group"

inputs = {
    "text_51536": "Prompt test",
    "image_1234": open(fixtures / "cat.png", "rb"),
    "video_1239": str(fixtures / "clip.mp4"),  # File path will be detected and opened
}

result = flowscale.execute_workflow(workflow_id, inputs, group_id)
print(f"Workflow Result: {result}")
check(result["status"] == "success", "execute_workflow answers success")
run_id = result["data"]["run_id"]
output_names = result["data"]["output_names"]
check(run_id and len(output_names) == 1, "execute_workflow: `run_id` and `output_names`, as the README shows")

# 6. get_run(run_id): _id, status, inputs [{path, value}], outputs [{filename, url}]
run_details = flowscale.get_run(run_id)
print(f"Run Details: {run_details}")
data = run_details["data"]
check(data["_id"] == run_id and data["status"] in ("queued", "running", "completed"), "get_run: `_id` and `status`")
paths = {i["path"]: i["value"] for i in data["inputs"]}
check(paths.get("text_51536") == "Prompt test", "get_run: the text input is stored")
check(paths.get("image_1234") == "cat.png" and paths.get("video_1239") == "clip.mp4",
      "get_run: both files were uploaded with their names")

# 4. get_output(filename): the README passes the name with its extension.
for _ in range(200):
    if flowscale.get_run(run_id)["data"]["status"] == "completed":
        break
    time.sleep(0.05)
filename = flowscale.get_run(run_id)["data"]["outputs"][0]["filename"]
check(filename == output_names[0] + ".png", "get_run: outputs carry `filename` (the output name plus extension)")
output = flowscale.get_output(filename)
print(f"Workflow Output: {output}")
check(output["data"]["download_url"].startswith(api_url) and output["data"]["generation_status"] == "success",
      "get_output: `download_url` and `generation_status`")

# 7. get_runs(group_id) and get_runs(): {"group_id", "count", "runs"}
runs = flowscale.get_runs("test_group")
print(f"Runs for Group: {runs}")
check(runs["data"]["group_id"] == "test_group" and runs["data"]["count"] == 1, "get_runs: `group_id` and `count`")
check(runs["data"]["runs"][0]["_id"] == run_id and runs["data"]["runs"][0]["outputs"][0]["filename"] == filename,
      "get_runs: the group's run with its outputs")
all_runs = flowscale.get_runs()
print(f"All Runs: {all_runs}")
check(all_runs["data"]["count"] >= 1 and all_runs["data"]["group_id"] is None, "get_runs() for the whole team")

# 5. cancel_run(run_id): "Run cancelled successfully"
slow = flowscale.execute_workflow(workflow_id, {"text_51536": "slow"})["data"]["run_id"]
check(flowscale.get_output(flowscale.execute_workflow(workflow_id, {"text_51536": "x"})["data"]["output_names"][0]) is None,
      "get_output before completion is None (204)")
result = flowscale.cancel_run(slow)
print(f"Cancellation Result: {result}")
check(result["data"] == "Run cancelled successfully", "cancel_run")
check(flowscale.get_run(slow)["data"]["status"] == "cancelled", "the cancelled run says so")
print("python SDK: its README works as written against the simulator")
