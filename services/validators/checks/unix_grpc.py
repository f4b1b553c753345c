"""A gRPC server on a unix socket in a directory of its own, for the length of one Terraform run.

Both the schema relay and the stand-in provider serve Terraform this way: the directory is the
one path the sandboxed run is given to see. Imported when a run first needs it: gRPC adds some
9 MiB to a process, which an idle validators process does without.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc

#: A provider's schema answer is megabytes (the AWS provider's 4.7 MiB); gRPC's default cap is 4 MiB.
MAX_MESSAGE = 1 << 30
OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]


@contextlib.contextmanager
def serving(handler: grpc.GenericRpcHandler, *, prefix: str, workers: int) -> Iterator[tuple[Path, Path]]:
    """`handler` served until the block ends: (the socket, its directory, which the run must see)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    socket = directory / "provider.sock"
    pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix.rstrip("-"))
    server = grpc.server(pool, options=OPTIONS)
    server.add_generic_rpc_handlers([handler])
    try:
        try:
            listening = server.add_insecure_port(f"unix:{socket}")
        except RuntimeError as exc:  # grpcio raises where older releases returned 0
            raise OSError(f"could not listen on {socket}: {exc}") from exc
        if not listening:
            raise OSError(f"could not listen on {socket}")
        server.start()
        yield socket, directory
    finally:
        server.stop(grace=None).wait(5)
        pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(directory, ignore_errors=True)
