"""NAME
    wire - the DNS questions and answers as they travel on the virtual network

SUMMARY
    query_line(7, "oreilly.com", "MX")        # b"QUERY 7 oreilly.com. IN MX\\r\\n"
    reply_lines(7, "NOERROR", records)        # b"REPLY 7 NOERROR ANCOUNT=1\\r\\n" + one RR line each
    ReplyReader().feed(data)                  # -> [Reply(qid, rcode, records)]
    dns_error("NXDOMAIN", "nosuch.example", "MX")   # the DNSError a resolver library raises

DESCRIPTION
    Not the binary DNS format, but a real request and answer on a
    connection, in text a student can read in the trace, shaped like DNS
    over TCP (RFC 7766: one connection may carry several queries, each
    answer names the query id it belongs to):

        QUERY 7 oreilly.com. IN MX
        REPLY 7 NOERROR ANCOUNT=1
        oreilly.com. 3600 IN MX 10 mail.oreilly.com.

    The header line gives the response code (NOERROR, NXDOMAIN, SERVFAIL)
    and how many resource records follow, one per line in zone-file
    presentation format. An empty NOERROR answer is "no data" (the name
    exists, the type does not). Error texts are not sent: the client makes
    them from the code, the name and the type it asked about, with the
    wording of the resolver library Postfix logs.

SEE ALSO
    RFC 1035 (presentation format), RFC 7766, simlab.dns.server, simlab.dns.resolver
"""

from __future__ import annotations

from dataclasses import dataclass

from .zone import DNSError, NoData, NXDomain, Record, ServFail, canon

NAME_TYPES = ("CNAME", "PTR", "NS")


def query_line(qid: int, name: str, rtype: str) -> bytes:
    return f"QUERY {qid} {canon(name)}. IN {rtype.upper()}\r\n".encode()


def parse_query(line: str) -> tuple[int, str, str]:
    """'QUERY 7 oreilly.com. IN MX' -> (7, 'oreilly.com', 'MX'); ValueError when malformed."""
    words = line.split()
    if len(words) != 5 or words[0] != "QUERY" or not (words[1].isascii() and words[1].isdigit()) or words[3] != "IN":
        raise ValueError(f"malformed query: {line!r}")
    return int(words[1]), canon(words[2]), words[4].upper()


def record_line(rec: Record) -> str:
    data = rec.data
    if rec.rtype == "MX":
        data = f"{rec.pref} {rec.data}."
    elif rec.rtype in NAME_TYPES:
        data = f"{rec.data}."
    return f"{rec.name}. {rec.ttl} IN {rec.rtype} {data}"


def parse_record(line: str) -> Record:
    name, ttl, klass, rtype, data = line.split(" ", 4)
    if klass != "IN" or not (ttl.isascii() and ttl.isdigit()):
        raise ValueError(f"malformed resource record: {line!r}")
    pref = 0
    if rtype == "MX":
        p, _, data = data.partition(" ")
        pref = int(p)
    if rtype == "MX" or rtype in NAME_TYPES:
        data = canon(data)
    return Record(canon(name), rtype, data, pref=pref, ttl=int(ttl))


def reply_lines(qid: int, rcode: str, records: list[Record]) -> bytes:
    lines = [f"REPLY {qid} {rcode} ANCOUNT={len(records)}"] + [record_line(r) for r in records]
    return "".join(line + "\r\n" for line in lines).encode()


@dataclass(frozen=True)
class Reply:
    qid: int
    rcode: str
    records: tuple[Record, ...]


class ReplyReader:
    """Bytes in, complete replies out (a reply ends after its ANCOUNT records)."""

    def __init__(self) -> None:
        self.buf = b""
        self.head: tuple[int, str, int] | None = None
        self.records: list[Record] = []

    def feed(self, data: bytes) -> list[Reply]:
        self.buf += data
        out: list[Reply] = []
        while True:
            if self.head is not None and len(self.records) == self.head[2]:
                out.append(Reply(self.head[0], self.head[1], tuple(self.records)))
                self.head, self.records = None, []
            nl = self.buf.find(b"\n")
            if nl < 0:
                return out
            line = self.buf[:nl].decode("utf-8", "replace").rstrip("\r")
            self.buf = self.buf[nl + 1:]
            if self.head is None:
                words = line.split()
                if len(words) != 4 or words[0] != "REPLY" or not words[3].startswith("ANCOUNT="):
                    raise ValueError(f"malformed reply: {line!r}")
                self.head = (int(words[1]), words[2], int(words[3][8:]))
            else:
                self.records.append(parse_record(line))


def dns_error(rcode: str, name: str, rtype: str) -> DNSError:
    """The exception the resolver raises for a negative answer (Postfix logs its text)."""
    n = canon(name)
    if rcode == "NXDOMAIN":
        return NXDomain(f"Host or domain name not found. Name service error for name={n} "
                        f"type={rtype}: Host not found")
    if rcode == "NOERROR":
        return NoData(f"Host or domain name not found. Name service error for name={n} "
                      f"type={rtype}: No address associated with hostname")
    return ServFail(f"Host or domain name lookup failed: {n}: {rcode}")
