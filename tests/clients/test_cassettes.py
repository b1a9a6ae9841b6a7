import re

import yaml

from tests.clients.conftest import CASSETTES


def test_cassettes_hold_no_credentials():
    for path in sorted(CASSETTES.glob("*.yaml")):
        tape = yaml.safe_load(path.read_text())
        for interaction in tape["interactions"]:
            assert interaction["request"]["headers"] == {}, path.name
            assert interaction["request"]["body"] is None, path.name
            body = interaction["response"]["body"]["string"]
            # Every token or signature in an answer is an obvious stand-in.
            for value in re.findall(r'"(?:access_token|refresh_token)":"([^"]*)"', body):
                assert value.endswith("-fake"), path.name
            for value in re.findall(r"Signature=([^\"'&\s]*)", body + interaction["request"]["uri"]):
                assert value == "fake", path.name
