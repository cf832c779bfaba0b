"""botocore's service models, loaded once per process and as plain dicts.

botocore parses its model files with `object_pairs_hook=OrderedDict`, and every botocore
session has a loader (and so a copy of each model) of its own. A dict keeps insertion order too
at less memory: the clients the operator makes hold about 7 MiB less (bench/backlog.py). And the
role sessions of a multi-account setup share the base session's loader, so the SageMaker model
(about 9 MiB of Python objects) is held once, not once per role.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.loaders import JSONFileLoader, Loader

# The file kinds botocore's own JSONFileLoader reads, in its order.
_OPENERS: tuple[tuple[str, Any], ...] = ((".json", open), (".json.gz", gzip.open))


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's JSONFileLoader, parsing into dicts instead of OrderedDicts."""

    def load_file(self, file_path: str) -> Any:
        for ext, opener in _OPENERS:
            path = Path(file_path + ext)
            if path.is_file():
                with opener(path, "rb") as fp:
                    return json.loads(fp.read().decode("utf-8"))
        return None


def lean_loader(session: boto3.Session) -> Loader:
    """`session`'s model loader (AWS_DATA_PATH honoured as botocore does), made to parse into
    dicts; register it on other botocore sessions with `share_loader`."""
    loader: Loader = session._session.get_component("data_loader")
    loader.file_loader = PlainJSONFileLoader()
    return loader


def share_loader(core: botocore.session.Session, loader: Loader) -> None:
    core.register_component("data_loader", loader)
