#!/usr/bin/env python3
"""A pymodbus (3.16) Modbus server for GridEdge's interop tests.

It serves a register image given as JSON, over Modbus TCP or RTU on a
serial device (a pty from socat in the tests):

    pymodbus_server.py --tcp 5020 --image image.json
    pymodbus_server.py --rtu /dev/pts/3 --baud 19200 --parity E --image image.json

The image maps unit ids to tables; each table is one block of consecutive
addresses, and addresses outside a block answer "illegal data address":

    {"1": {"holding":  {"start": 0, "values": [1, 2, 3]},
           "input":    {"start": 100, "values": [4]},
           "coils":    {"start": 0, "values": [true, false]},
           "discrete": {"start": 0, "values": [false, true]}}}

A unit may also list typed values, which the script encodes itself (with
Python's struct module, independently of GridEdge's Go encoder) into its
holding or input block, so that the tests compare two implementations of
every datatype and byte order:

    "vars": [{"table": "holding", "address": 10, "datatype": "32float",
              "order": "CDAB", "value": 21.5}, ...]

Byte orders: ABCD is big-endian; CDAB reverses the registers, BADC swaps
the bytes of each register, DCBA does both. 8-bit values sit in the low
byte (high byte for BADC/DCBA); strings are two characters per register,
first character high (swapped for BADC/DCBA); bits are a 16-bit register,
element i being bit i; BCD packs decimal digits in nibbles.

It prints "READY" on stdout once it serves, and runs until killed.
"""

import argparse
import asyncio
import json
import logging
import struct
import sys

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def block(table, spec, bits):
    if not spec or not spec.get("values"):
        return []
    values = [bool(v) for v in spec["values"]] if bits else [int(v) & 0xFFFF for v in spec["values"]]
    return [SimData(address=int(spec.get("start", 0)), values=values,
                    datatype=DataType.BITS if bits else DataType.REGISTERS)]


STRUCT = {"16int": ">h", "16uint": ">H", "32int": ">i", "32uint": ">I", "16float": ">e",
          "32float": ">f", "64int": ">q", "64uint": ">Q", "64float": ">d"}


def encode(var):
    """Return the registers of one typed value."""
    dt, order, value = var["datatype"], var.get("order", "ABCD"), var["value"]
    swap = order in ("BADC", "DCBA")
    if dt in ("8int", "8uint"):
        b = struct.pack(">b" if dt == "8int" else ">B", value)[0]
        return [b << 8 if swap else b]
    if dt == "string":
        raw = value.encode("ascii").ljust(2 * var["datasize"], b"\0")
        regs = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
        return [((r & 0xFF) << 8 | r >> 8) if swap else r for r in regs]
    if dt == "bits":
        return [sum(1 << i for i, bit in enumerate(value) if bit)]
    if dt in STRUCT:
        raw = struct.pack(STRUCT[dt], value)
    elif dt in ("48int", "48uint"):
        raw = value.to_bytes(6, "big", signed=dt == "48int")
    elif dt in ("16bcd", "32bcd"):
        n = 2 if dt == "16bcd" else 4
        raw = bytes.fromhex(str(value).rjust(2 * n, "0"))
    else:
        raise ValueError(f"unknown datatype {dt}")
    regs = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
    if order in ("CDAB", "DCBA"):
        regs.reverse()
    if swap:
        regs = [(r & 0xFF) << 8 | r >> 8 for r in regs]
    return regs


def overlay(tables):
    """Write the typed values of a unit into its register blocks."""
    for var in tables.get("vars", []):
        spec = tables[var["table"]]
        for i, reg in enumerate(encode(var)):
            spec["values"][var["address"] - spec.get("start", 0) + i] = reg


def devices(image):
    out = []
    for unit, tables in image.items():
        overlay(tables)
        out.append(SimDevice(
            id=int(unit),
            # Non-shared blocks: coils, discrete inputs, holding, input.
            simdata=(
                block("coils", tables.get("coils"), True),
                block("discrete", tables.get("discrete"), True),
                block("holding", tables.get("holding"), False),
                block("input", tables.get("input"), False),
            ),
        ))
    return out


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve Modbus TCP on 127.0.0.1:PORT")
    where.add_argument("--rtu", metavar="DEVICE", help="serve RTU on this serial device or pty")
    p.add_argument("--baud", type=int, default=19200)
    p.add_argument("--parity", default="E", choices=["N", "E", "O"])
    p.add_argument("--stopbits", type=int, default=1)
    p.add_argument("--image", required=True, help="JSON register image")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR, stream=sys.stderr)
    with open(args.image, encoding="utf-8") as f:
        image = json.load(f)
    devs = devices(image)
    if args.tcp is not None:
        server = ModbusTcpServer(devs, framer=FramerType.SOCKET, address=("127.0.0.1", args.tcp))
    else:
        server = ModbusSerialServer(devs, framer=FramerType.RTU, port=args.rtu, baudrate=args.baud,
                                    parity=args.parity, stopbits=args.stopbits, bytesize=8)
    await server.serve_forever(background=True)
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
