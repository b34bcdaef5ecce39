#!/usr/bin/env python3
"""Write fixtures/thrift/*.bin with Apache Thrift's Python library and the
ExtensionManager code that PyPI's `osquery` package generated from osquery's
IDL, so src/osquery/thrift.rs is tested against bytes it did not produce itself.

Requests are what `ExtensionManager.Client` writes; replies are what
`ExtensionManager.Processor` (the server side) writes when it answers those
requests. Both go through TBinaryProtocol (strict, unframed) over memory.

    python3 tests/interop/gen_fixtures.py          # (re)write the fixtures
    python3 tests/interop/gen_fixtures.py --check  # fail if any differs
"""

import logging
import os
import sys

from thrift.Thrift import TMessageType, TType
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from osquery.extensions import ExtensionManager
from osquery.extensions.ttypes import ExtensionResponse, ExtensionStatus

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "thrift")

# The same strings the Rust tests expect (src/osquery/thrift.rs, tests module).
QUERY_SQL = "SELECT pid, name FROM processes LIMIT 3"
COLUMNS_SQL = "SELECT pid, name FROM processes"
ROWS = [
    {"pid": "1", "name": "osqueryd"},
    {"pid": "812", "name": "sshd: root@pts/0 \u2713"},
    {"pid": "9", "name": ""},
]
# getQueryColumns answers one single-entry map per column, {name: type}.
COLUMNS = [{"pid": "BIGINT"}, {"name": "TEXT"}]


def client_bytes(seqid, send):
    """What a real client writes for one call; the Python client always
    sends seqid 0, so the attribute is set to show the field is echoed."""
    out = TTransport.TMemoryBuffer()
    client = ExtensionManager.Client(TBinaryProtocol.TBinaryProtocol(out))
    client._seqid = seqid
    send(client)
    return out.getvalue()


class Handler:
    """The answers; osquery's C++ server always writes every field, so the
    statuses here carry code, message and uuid like osqueryd's do."""

    def __init__(self, mode):
        self.mode = mode

    def ping(self):
        return ExtensionStatus(code=0, message="pong", uuid=0)

    def query(self, sql):
        if self.mode == "rows":
            return ExtensionResponse(ExtensionStatus(0, "OK", 0), ROWS)
        if self.mode == "empty":
            return ExtensionResponse(ExtensionStatus(0, "OK", 0), [])
        if self.mode == "error":
            # osqueryd: status 1, SQLite's message, no rows, uuid left 0.
            return ExtensionResponse(ExtensionStatus(1, "no such table: nosuch", 0), [])
        if self.mode == "sparse":
            # A Python-generated server leaves unset fields off the wire.
            return ExtensionResponse(ExtensionStatus(code=1, message="no such table: nosuch"))
        raise RuntimeError("the handler failed")  # becomes INTERNAL_ERROR

    def getQueryColumns(self, sql):
        return ExtensionResponse(ExtensionStatus(0, "OK", 0), COLUMNS)


def server_bytes(request, mode):
    """What the real Processor writes back for one request."""
    iprot = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(request))
    out = TTransport.TMemoryBuffer()
    ExtensionManager.Processor(Handler(mode)).process(iprot, TBinaryProtocol.TBinaryProtocol(out))
    return out.getvalue()


def extra_fields_reply(seqid):
    """A reply from a newer peer: every kind of field the Rust decoder must
    skip, placed before, between and inside the fields it reads. Written
    field by field with the real TBinaryProtocol writer."""
    out = TTransport.TMemoryBuffer()
    p = TBinaryProtocol.TBinaryProtocol(out)
    p.writeMessageBegin("query", TMessageType.REPLY, seqid)
    p.writeStructBegin("query_result")
    p.writeFieldBegin("future", TType.DOUBLE, 9)
    p.writeDouble(1.5)
    p.writeFieldBegin("success", TType.STRUCT, 0)
    p.writeStructBegin("ExtensionResponse")
    p.writeFieldBegin("flag", TType.BOOL, 7)
    p.writeBool(True)
    p.writeFieldBegin("status", TType.STRUCT, 1)
    p.writeStructBegin("ExtensionStatus")
    p.writeFieldBegin("code", TType.I32, 1)
    p.writeI32(0)
    p.writeFieldBegin("note", TType.MAP, 4)
    p.writeMapBegin(TType.STRING, TType.LIST, 1)
    p.writeString("k")
    p.writeListBegin(TType.I16, 2)
    p.writeI16(1)
    p.writeI16(2)
    p.writeFieldBegin("message", TType.STRING, 2)
    p.writeString("OK")
    p.writeFieldBegin("uuid", TType.I64, 3)
    p.writeI64(42)
    p.writeFieldStop()
    p.writeFieldBegin("nested", TType.STRUCT, 8)
    p.writeFieldBegin("inner", TType.STRUCT, 1)
    p.writeFieldBegin("b", TType.BYTE, 1)
    p.writeByte(-1)
    p.writeFieldBegin("s", TType.SET, 2)
    p.writeSetBegin(TType.I64, 1)
    p.writeI64(-7)
    p.writeFieldStop()
    p.writeFieldBegin("blob", TType.STRING, 2)
    p.writeBinary(b"\x00\xff")
    p.writeFieldStop()
    p.writeFieldBegin("response", TType.LIST, 2)
    p.writeListBegin(TType.MAP, 1)
    p.writeMapBegin(TType.STRING, TType.STRING, 1)
    p.writeString("pid")
    p.writeString("1")
    p.writeFieldBegin("tail", TType.LIST, 10)
    p.writeListBegin(TType.STRUCT, 1)
    p.writeFieldStop()
    p.writeFieldStop()
    p.writeFieldStop()
    p.writeMessageEnd()
    return out.getvalue()


def fixtures():
    ping = client_bytes(1, lambda c: c.send_ping())
    query = client_bytes(2, lambda c: c.send_query(QUERY_SQL))
    columns = client_bytes(3, lambda c: c.send_getQueryColumns(COLUMNS_SQL))
    return {
        "request-ping.bin": ping,
        "request-query.bin": query,
        "request-get-query-columns.bin": columns,
        "reply-ping.bin": server_bytes(ping, "rows"),
        "reply-query-rows.bin": server_bytes(query, "rows"),
        "reply-query-empty.bin": server_bytes(query, "empty"),
        "reply-query-error.bin": server_bytes(query, "error"),
        "reply-query-sparse.bin": server_bytes(query, "sparse"),
        "reply-query-exception.bin": server_bytes(query, "raise"),
        "reply-get-query-columns.bin": server_bytes(columns, "rows"),
        "reply-query-extra-fields.bin": extra_fields_reply(2),
    }


def main():
    # The Processor logs the handler failure it turns into an exception reply.
    logging.disable(logging.CRITICAL)
    check = "--check" in sys.argv[1:]
    stale = []
    for name, data in fixtures().items():
        path = os.path.join(OUT, name)
        if check:
            with open(path, "rb") as f:
                if f.read() != data:
                    stale.append(name)
        else:
            os.makedirs(OUT, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    if stale:
        sys.exit("differs from what the Thrift library writes: " + ", ".join(stale))
    print("%s %d fixtures in %s" % ("checked" if check else "wrote", len(fixtures()), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
