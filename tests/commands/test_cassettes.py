import re

import yaml

from tests.commands.conftest import CASSETTES, RECORDED_BASE


def test_cassettes_hold_only_stand_in_tokens():
    paths = sorted(CASSETTES.glob("*.yaml"))
    assert paths != []
    for path in paths:
        tape = yaml.safe_load(path.read_text())
        for interaction in tape["interactions"]:
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(RECORDED_BASE + "/sandbox/"), path.name
            assert set(request["headers"]) <= {"Authorization"}, path.name
            for value in request["headers"].get("Authorization", []):
                assert re.fullmatch(r"Bearer [a-z]+-access-[a-z]+-new-fake", value), path.name
            if request["body"] is not None:
                assert re.fullmatch(
                    r"grant_type=refresh_token&refresh_token=[a-z]+-refresh-[a-z]+-fake", request["body"]
                ), path.name
            body = response["body"]["string"]
            for value in re.findall(r'"(?:access_token|refresh_token)": ?"([^"]*)"', body):
                assert value.endswith("-new-fake"), path.name
