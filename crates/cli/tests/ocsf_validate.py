"""Validates OCSF Detection Findings, one JSON object per line on stdin, with py-ocsf-models
(installed by scripts/test-ocsf.sh), then checks what the model leaves open: the cloud profile
and the evidence artifacts' actor, source endpoint and API operation."""
import json
import sys

from py_ocsf_models.events.findings.detection_finding import DetectionFinding

count = 0
for number, line in enumerate(sys.stdin, start=1):
    if not line.strip():
        continue
    finding = json.loads(line)
    try:
        DetectionFinding.model_validate(finding)
    except Exception as error:  # pydantic's ValidationError names every field that failed
        print(f"line {number}: {error}")
        sys.exit(1)
    problems = []
    if finding.get("class_uid") != 2004 or finding.get("type_uid") != 2004 * 100 + finding.get("activity_id", -1):
        problems.append("class_uid/type_uid")
    if "cloud" not in finding.get("metadata", {}).get("profiles", []):
        problems.append("the cloud profile is not declared")
    if finding.get("cloud", {}).get("provider") != "AWS":
        problems.append("cloud.provider")
    for evidence in finding.get("evidences", []):
        if not evidence.get("actor", {}).get("user", {}).get("uid"):
            problems.append("an evidence has no actor.user.uid")
        if not (evidence.get("src_endpoint", {}).get("ip") or evidence.get("src_endpoint", {}).get("svc_name")):
            problems.append("an evidence has no src_endpoint")
        if not evidence.get("api", {}).get("operation"):
            problems.append("an evidence has no api.operation")
    if not finding.get("evidences"):
        problems.append("no evidences")
    if problems:
        print(f"line {number}: " + "; ".join(problems))
        sys.exit(1)
    count += 1
print(f"{count} finding(s) valid")
