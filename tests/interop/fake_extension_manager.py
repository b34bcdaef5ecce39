#!/usr/bin/env python3
"""A fake osqueryd extension manager served by Apache Thrift's Python library
with the ExtensionManager code PyPI's `osquery` package generated from
osquery's IDL, served the way osqueryd serves it: TThreadedServer (a thread per
connection) on a UNIX socket, TBufferedTransport (unframed), TBinaryProtocol.

    python3 tests/interop/fake_extension_manager.py /tmp/x/osquery.em

Prints "listening on PATH" once connections are accepted. Its answers are the
ones tests/it/fake_daemon.rs (canned_rows, canned_columns) gives, so the ignored
interop tests (tests/it/thrift_wire.rs, tests/it/daemon.rs) can expect the same
rows from both:

- ping: status 0, "pong";
- query: status 1 "no such table: nosuch" when the SQL names `nosuch`;
  a TApplicationException (INTERNAL_ERROR) when it says `raise`;
  osquery 5.13.1's version when it reads `osquery_info` (for health checks);
  otherwise status 0 and two rows;
- getQueryColumns: one {column: type} map per column.
"""

import logging
import sys

from thrift.protocol import TBinaryProtocol
from thrift.server import TServer
from thrift.transport import TSocket, TTransport

from osquery.extensions import ExtensionManager
from osquery.extensions.ttypes import ExtensionResponse, ExtensionStatus

ROWS = [{"name": "osqueryd", "pid": "1"}, {"name": "sshd", "pid": "812"}]
INFO = [{"version": "5.13.1"}]
COLUMNS = [{"name": "TEXT"}, {"pid": "BIGINT"}]


class Handler:
    def ping(self):
        return ExtensionStatus(code=0, message="pong", uuid=0)

    def query(self, sql):
        if "nosuch" in sql:
            return ExtensionResponse(ExtensionStatus(1, "no such table: nosuch", 0), [])
        if "raise" in sql:
            raise RuntimeError("asked to fail")
        if "osquery_info" in sql:
            return ExtensionResponse(ExtensionStatus(0, "OK", 0), INFO)
        return ExtensionResponse(ExtensionStatus(0, "OK", 0), ROWS)

    def getQueryColumns(self, sql):
        return ExtensionResponse(ExtensionStatus(0, "OK", 0), COLUMNS)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fake_extension_manager.py SOCKET_PATH")
    path = sys.argv[1]
    # The Processor logs the handler failure that `raise` asks for.
    logging.disable(logging.CRITICAL)
    transport = TSocket.TServerSocket(unix_socket=path)
    server = TServer.TThreadedServer(
        ExtensionManager.Processor(Handler()),
        transport,
        TTransport.TBufferedTransportFactory(),
        TBinaryProtocol.TBinaryProtocolFactory(),
        daemon=True,
    )
    # Listen before saying so; serve() would listen again, so it is told not to.
    transport.listen()
    transport.listen = lambda: None
    print("listening on %s" % path, flush=True)
    server.serve()


if __name__ == "__main__":
    main()
