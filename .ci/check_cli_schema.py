"""Every --json document and --events line of the flowscale tool against its JSON Schema
(`flowscale schema`), for commands that succeed and commands that fail, on a simulator of
its own (`flowscale mock`). Usage: check_cli_schema.py FLOWSCALE_BINARY. Exits 1 naming
the first document that does not fit."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import jsonschema

tool = sys.argv[1]
schema = json.loads(subprocess.run([tool, "schema"], check=True, capture_output=True, text=True).stdout)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
work = tempfile.mkdtemp(prefix="flowscale-schema-")
mock = subprocess.Popen([tool, "mock", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
checked = 0
try:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    env = dict(os.environ, FLOWSCALE_API_URL=f"http://127.0.0.1:{port}", FLOWSCALE_API_KEY="mock-api-key",
               FLOWSCALE_CONFIG=os.path.join(work, "none.toml"))
    env.pop("FLOWSCALE_PROFILE", None)
    with open(os.path.join(work, "jobs.jsonl"), "w") as f:
        f.write('{"name": "one", "text_51536": "a fox"}\n')

    def check(args, events=False):
        global checked
        out = subprocess.run([tool, *args, "--events" if events else "--json"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=120).stdout
        docs = [json.loads(line) for line in out.splitlines() if line.strip()] if events else []
        if not events:
            text = out.strip()
            try:
                docs = [json.loads(text)]
            except json.JSONDecodeError:
                docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not docs:
            sys.exit(f"error: `flowscale {' '.join(args)}` printed no document")
        for doc in docs:
            errors = sorted(validator.iter_errors(doc), key=lambda e: e.path)
            if errors:
                sys.exit(f"error: `flowscale {' '.join(args)}` printed a document the schema refuses: "
                         f"{json.dumps(doc)[:600]}\n{errors[0].message}")
            checked += 1
        return docs

    started = check(["run", "bncu0a1kipv", "-i", "text_51536=a fox", "--no-wait"])[0]
    run_id = started["run_id"]
    check(["wait", run_id, "--poll", "100ms", "-o", "w"])
    check(["run", "bncu0a1kipv", "-i", "text_51536=a hare", "--poll", "100ms", "-o", "r"], events=True)
    check(["run", "bncu0a1kipv", "-i", "text_51536=a cat", "--poll", "100ms", "-o", "r2"])
    check(["get", run_id])
    check(["runs"])
    check(["runs", "--all"])
    check(["download", run_id, "-o", "d"])
    check(["health"])
    check(["queue"])
    check(["workflows"])
    check(["workflows", "bncu0a1kipv"])
    check(["lock"])
    check(["lock", "--check"])
    check(["batch", "bncu0a1kipv", "--jobs", "jobs.jsonl", "-o", "b", "--poll", "100ms"])
    check(["batch", "bncu0a1kipv", "--jobs", "jobs.jsonl", "-o", "b2", "--poll", "100ms"], events=True)
    check(["cancel", run_id])
    check(["profiles"])
    check(["man"])
    # Failures: an error document, and a failed event.
    check(["get", "no-such-run"])
    check(["run", "nope"])
    check(["run", "failing", "-i", "a=1", "--poll", "100ms"])
    check(["run", "failing", "-i", "a=1", "--poll", "100ms"], events=True)
finally:
    mock.kill()
    mock.wait()
    shutil.rmtree(work, ignore_errors=True)
print(f"{checked} documents and events fit the schema")
