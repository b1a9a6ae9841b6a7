"""A stand-in for OpenHumansClient in tests of the disconnect and download actions.

Patched in at the client boundary: these tests are about what the view does
with Open Humans' answers (and failures), which is easier to state as Python
values than as recorded HTTP.
"""

from dataclasses import dataclass, field

from apiclients.errors import UpstreamError
from apiclients.openhumans import ExchangeMember, RemoteFile


@dataclass
class FakeOpenHumans:
    files: list[RemoteFile] = field(default_factory=list)
    failure: UpstreamError | None = None
    calls: list[tuple] = field(default_factory=list)

    def __call__(self, *args, **kwargs) -> "FakeOpenHumans":
        return self

    def delete_files_named(self, access_token: str, project_member_id: str, basename: str) -> list[int]:
        self.calls.append(("delete_files_named", access_token, project_member_id, basename))
        if self.failure:
            raise self.failure
        deleted = [remote.id for remote in self.files if remote.basename == basename]
        self.files = [remote for remote in self.files if remote.basename != basename]
        return deleted

    def exchange_member(self, access_token: str) -> ExchangeMember:
        self.calls.append(("exchange_member", access_token))
        if self.failure:
            raise self.failure
        return ExchangeMember(
            project_member_id="23456789", username="alice", message_permission=True, files=list(self.files)
        )


def remote_file(file_id: int, basename: str = "moves-storyline-data.json") -> RemoteFile:
    return RemoteFile(
        id=file_id,
        basename=basename,
        download_url=f"https://storage.example/{file_id}/{basename}?signature=abc",
        created="2018-04-25T20:34:38Z",
        source="direct-sharing-138",
        metadata={"description": "Moves", "tags": ["GPS", "Moves", "steps"]},
    )
