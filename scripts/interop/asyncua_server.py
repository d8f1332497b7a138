#!/usr/bin/env python3
"""An asyncua (2.1) OPC-UA server for GridEdge's OPC-UA interop tests.

    asyncua_server.py --port 4840
    asyncua_server.py --port 4841 --security basic256sha256 \
        --cert server.der --key server.pem --user alice:secret
    asyncua_server.py --port 4842 --items 10000 --period 1.0

It registers the namespace "urn:gridedge:test" (index 2) and serves, with
string node ids that stay the same across restarts:

    ns=2;s=Plant.Temperature   Double     21.5
    ns=2;s=Plant.Counter       UInt32     +1 every --tick seconds (0.1)
    ns=2;s=Plant.Ramp          Double     +0.1 every tick (deadband tests)
    ns=2;s=Plant.Flag          Boolean    true
    ns=2;s=Plant.Level         Int16      -12
    ns=2;s=Plant.Big           Int64      9007199254740993
    ns=2;s=Plant.Name          String     "boiler 1"
    ns=2;s=Plant.Samples       Double[]   [1.5, 2.5, 3.5]
    ns=2;s=Plant.Codes         Int32[]    [1, -2, 3]
    ns=2;s=Plant.Started       DateTime   2024-05-01T10:00:00Z
    ns=2;s=Plant.Label         LocalizedText "Kessel" (de)
    ns=2;s=Plant.Guess         Double 7.5, status UncertainLastUsableValue
    ns=2;s=Plant.Broken        Double, status BadSensorFailure
    ns=2;s=Plant.Setpoint      Double     50.0, writable

With --items N it also serves ns=2;s=Bench.<i> (Double) for i in 0..N-1,
all written every --period seconds (value = the write's time in seconds),
for the subscription benchmark. --security is none (default: only the None
endpoint), basic256sha256 (Sign and SignAndEncrypt only) or all; --user
name:password accepts that user (and no other user name); anonymous
sessions are accepted unless --no-anonymous. --cert-user FILE accepts the
certificate in FILE (DER or PEM) as a user identity; --app-cert FILE names
a client application certificate (anonymous sessions over a secure channel
carry it).

It prints "READY" on stdout once it serves, and runs until killed.
"""

import argparse
import asyncio
import datetime
import logging
import sys
import time

from asyncua import Server, ua
from asyncua.crypto import uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

NS = "urn:gridedge:test"


class Users(UserManager):
    """Accepts user names with their passwords, user certificates, and
    anonymous sessions. asyncua passes the secure channel's application
    certificate for anonymous tokens and the user certificate for X509
    tokens: with --app-cert, an anonymous session is one with no
    certificate or one of those application certificates, and any other
    certificate must be a --cert-user one; without --app-cert, any
    certificate that is not a --cert-user one is an application's."""

    def __init__(self, users, certs, app_certs, anonymous):
        self.users = users
        self.certs = certs
        self.app_certs = app_certs
        self.anonymous = anonymous

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username:
            if self.users.get(username) == password:
                return User(role=UserRole.User, name=username)
            return None
        if certificate and certificate in self.certs:
            return User(role=UserRole.User, name="cert")
        if not certificate or not self.app_certs or certificate in self.app_certs:
            return User(role=UserRole.User) if self.anonymous else None
        return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4840)
    ap.add_argument("--security", choices=["none", "basic256sha256", "all"], default="none")
    ap.add_argument("--cert", help="server certificate (DER or PEM)")
    ap.add_argument("--key", help="server private key (PEM)")
    ap.add_argument("--user", action="append", default=[], help="name:password")
    ap.add_argument("--cert-user", action="append", default=[], help="user certificate file")
    ap.add_argument("--app-cert", action="append", default=[], help="client application certificate file")
    ap.add_argument("--no-anonymous", action="store_true")
    ap.add_argument("--tick", type=float, default=0.1)
    ap.add_argument("--items", type=int, default=0)
    ap.add_argument("--period", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    users = dict(u.split(":", 1) for u in args.user)
    async def ders(files):
        return [uacrypto.der_from_x509(await uacrypto.load_certificate(f)) for f in files]

    server = Server(user_manager=Users(users, await ders(args.cert_user), await ders(args.app_cert), not args.no_anonymous))
    await server.init()
    server.set_endpoint(f"opc.tcp://{args.host}:{args.port}/")
    server.set_server_name("GridEdge asyncua test server")
    await server.set_application_uri("urn:gridedge:test:server")
    policies = {
        "none": [ua.SecurityPolicyType.NoSecurity],
        "basic256sha256": [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                           ua.SecurityPolicyType.Basic256Sha256_Sign],
        "all": [ua.SecurityPolicyType.NoSecurity,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ua.SecurityPolicyType.Basic256Sha256_Sign],
    }[args.security]
    server.set_security_policy(policies)
    tokens = [ua.AnonymousIdentityToken, ua.UserNameIdentityToken, ua.X509IdentityToken]
    if args.no_anonymous:
        tokens = tokens[1:]
    server.set_identity_tokens(tokens)
    if args.cert:
        await server.load_certificate(args.cert)
        await server.load_private_key(args.key)

    idx = await server.register_namespace(NS)
    plant = await server.nodes.objects.add_object(ua.NodeId("Plant", idx), ua.QualifiedName("Plant", idx))

    async def var(name, value, vtype, status=None):
        node = await plant.add_variable(ua.NodeId("Plant." + name, idx), ua.QualifiedName(name, idx), ua.Variant(value, vtype))
        if status is not None:
            dv = ua.DataValue(ua.Variant(value, vtype), StatusCode=ua.StatusCode(status),
                              SourceTimestamp=datetime.datetime.now(datetime.timezone.utc))
            await server.write_attribute_value(node.nodeid, dv)
        return node

    await var("Temperature", 21.5, ua.VariantType.Double)
    counter = await var("Counter", 0, ua.VariantType.UInt32)
    ramp = await var("Ramp", 0.0, ua.VariantType.Double)
    await var("Flag", True, ua.VariantType.Boolean)
    await var("Level", -12, ua.VariantType.Int16)
    await var("Big", 9007199254740993, ua.VariantType.Int64)
    await var("Name", "boiler 1", ua.VariantType.String)
    await var("Samples", [1.5, 2.5, 3.5], ua.VariantType.Double)
    await var("Codes", [1, -2, 3], ua.VariantType.Int32)
    await var("Started", datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=datetime.timezone.utc), ua.VariantType.DateTime)
    await var("Label", ua.LocalizedText("Kessel", "de"), ua.VariantType.LocalizedText)
    await var("Guess", 7.5, ua.VariantType.Double, ua.StatusCodes.UncertainLastUsableValue)
    await var("Broken", 0.0, ua.VariantType.Double, ua.StatusCodes.BadSensorFailure)
    setpoint = await var("Setpoint", 50.0, ua.VariantType.Double)
    await setpoint.set_writable()

    bench = []
    if args.items:
        folder = await server.nodes.objects.add_object(ua.NodeId("Bench", idx), "Bench")
        for i in range(args.items):
            bench.append(await folder.add_variable(ua.NodeId(f"Bench.{i}", idx), f"B{i}", ua.Variant(0.0, ua.VariantType.Double)))

    async with server:
        print("READY", flush=True)
        n = 0
        next_bench = time.monotonic()
        while True:
            await asyncio.sleep(args.tick)
            n += 1
            await counter.write_value(ua.Variant(n, ua.VariantType.UInt32))
            await ramp.write_value(ua.Variant(round(n * 0.1, 6), ua.VariantType.Double))
            if bench and time.monotonic() >= next_bench:
                next_bench += args.period
                now = time.time()
                for node in bench:
                    # the internal write: no session round trip per node
                    await server.write_attribute_value(node.nodeid, ua.DataValue(ua.Variant(now, ua.VariantType.Double),
                        SourceTimestamp=datetime.datetime.now(datetime.timezone.utc)))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
