"""Reads Schemathesis's JUnit report and fails on any finding except the documented
contradictions of FlowScale's OpenAPI file itself (README of the simulator: the testing
guide): it documents no 401/403 (every route needs the key) and no 404 for an unknown run,
output or workflow. Anything else is a real finding: printed, and the exit status is 1.

Against the default shapes (`--default-shapes`), the runs list is also let answer without
`group_id` and say `group_id: null`, as the current server and every SDK do (the file marks
it required; the testing guide says which way the simulator goes and why).

Usage: check_schemathesis.py REPORT.xml [--default-shapes]
"""
import re
import sys
import xml.etree.ElementTree as ET

ALLOWED_STATUS = {"401", "403", "404"}


def findings(text):
    """Each test case of a failure: its check codes and the status received."""
    for case in re.split(r"\n?\d+\. Test Case ID", text):
        codes = re.findall(r"^- (ST\d+)", case, re.M)
        if not codes:
            continue
        received = re.search(r"Received: (\d+)", case)
        yield codes, received.group(1) if received else None, case.strip()


def allowed(name, codes, status, case, default_shapes):
    if all(c == "ST103" for c in codes) and status in ALLOWED_STATUS:
        return True
    return (
        default_shapes
        and name == "GET /api/v1/runs"
        and "group_id" in case
        and all(c in ("ST201", "ST108", "ST103") for c in codes)
    )


def main(path, default_shapes):
    root = ET.parse(path).getroot()
    bad = []
    checked = 0
    for testcase in root.iter("testcase"):
        checked += 1
        for node in list(testcase.iter("failure")) + list(testcase.iter("error")):
            if node.tag == "error":
                bad.append((testcase.get("name"), node.text or node.get("message")))
                continue
            for codes, status, case in findings(node.text or ""):
                if not allowed(testcase.get("name"), codes, status, case, default_shapes):
                    bad.append((testcase.get("name"), case))
    for name, case in bad:
        print(f"--- {name}\n{case}\n")
    print(f"{checked} operations checked, {len(bad)} findings beyond the file's own contradictions")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--default-shapes" in sys.argv[2:]))
