"""Generate ``030_sample_data.sql``: sample orders for the baseline sandbox tables.

Run from anywhere::

    python sql/baseline/make_sample_data.py            # writes 030_sample_data.sql next to this file
    python sql/baseline/make_sample_data.py -o OUT.sql # writes somewhere else (used by the tests)

The output depends only on the seed: two runs write identical bytes. The generated file is
committed, and a unit test fails when it no longer matches what this script produces, so change
the script and run it again rather than editing the SQL by hand.

What it writes: ``ORDER_COUNT`` orders of golf and lifestyle apparel, each with 3 to 6 size
subitems. Every order goes into the board mirror (``dbo.MON_CustMasterSchedule`` and its
subitems table) and into the staging tables as the sync left them after pushing the order to
Monday.com (``stg_status = N'PROCESSED'``, Monday ids filled in). Staging business values equal
the mirror's, so the mirror is a consistent "old value" snapshot for every staged row.

The SQL stays inside the subset the embedded runner supports: ``INSERT INTO ... (columns)
VALUES`` statements only, at most ``ROWS_PER_INSERT`` rows each, one statement per batch, string
literals as ``N'...'`` with doubled quotes, dates as ``'YYYY-MM-DD'``, decimals as plain numbers.
IDENTITY columns (``stg_id``) are never inserted. ``stg_parent_stg_id`` is left NULL because the
identity values of the parent rows are not known when the file is written; subitems are linked to
their order through ``stg_monday_parent_item_id`` / ``[Parent Item ID]``.

Standard library only.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEED = 20250630
ORDER_COUNT = 300
ROWS_PER_INSERT = 250  # SQL Server accepts at most 1000 rows in one VALUES list
SNAPSHOT_DATE = date(2025, 6, 30)  # the day the board mirror was last read
FIRST_ITEM_ID = 8_000_000_000
FIRST_SUBITEM_ID = 9_000_000_000
SUBITEM_BOARD_ID = 7_812_345_690

OUTPUT_NAME = "030_sample_data.sql"

ORDER_STATUSES = ("RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD")

_Q4 = Decimal("0.0001")


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Customer:
    name: str
    code: str  # used in batch names and SKUs
    style_prefix: str
    po_prefix: str
    weight: int
    emails: tuple[str, ...]
    buyers: tuple[str, ...]
    payment_terms: str
    destinations: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    name: str
    product_type: str
    sizes: tuple[str, ...]
    curve: tuple[int, ...]  # relative share of each size
    description: str
    fabric_code: str
    fabric: str
    fiber: str
    hts: str
    duty_bp: int  # duty rate in basis points of a percent (3200 = 32.00 %)
    cost_cents: tuple[int, int]


ALPHA = ("XS", "S", "M", "L", "XL", "XXL")
ALPHA_CURVE = (5, 15, 30, 30, 15, 5)
WAIST = ("30", "32", "34", "36", "38", "40")
WAIST_CURVE = (8, 22, 28, 22, 12, 8)
WOMENS = ("0", "2", "4", "6", "8", "10", "12")
WOMENS_CURVE = (6, 14, 22, 24, 18, 10, 6)

CUSTOMERS: tuple[Customer, ...] = (
    Customer(
        "GREYSON",
        "GRY",
        "GMK",
        "GR",
        5,
        ("jenna.ross@greysonclothiers.example", "orders@greysonclothiers.example"),
        ("Jenna Ross", "Marcus Hale"),
        "NET 60",
        ("USA - NEW YORK", "USA - LOS ANGELES"),
    ),
    Customer(
        "TITLEIST",
        "TTL",
        "TKM",
        "TA",
        5,
        ("apparel.po@titleist.example", "dana.o'neil@titleist.example"),
        ("Dana O'Neil", "Chris Medeiros"),
        "NET 30",
        ("USA - NEW BEDFORD", "CANADA - TORONTO"),
    ),
    Customer(
        "PETER MILLAR",
        "PML",
        "MS26",
        "PM",
        5,
        ("liam.o'connor@petermillar.example", "sourcing@petermillar.example"),
        ("Liam O'Connor", "Ashley Bryant"),
        "NET 60",
        ("USA - RALEIGH",),
    ),
    Customer(
        "JOHNNIE-O",
        "JNO",
        "JMKO",
        "JO",
        2,
        ("production@johnnie-o.example",),
        ("Tyler Nguyen",),
        "NET 45",
        ("USA - LOS ANGELES",),
    ),
    Customer(
        "FAIRWAY & GREENE",
        "FWG",
        "FG",
        "FWG",
        2,
        ("buying@fairwaygreene.example",),
        ("Renée Dubois",),
        "LC AT SIGHT",
        ("USA - NEW YORK", "UK - LONDON"),
    ),
    Customer(
        "L'ÉTOILE GOLF",
        "LET",
        "LE",
        "LEG",
        1,
        ("commandes@letoile-golf.example",),
        ("Amélie Lefèvre",),
        "NET 30",
        ("FRANCE - PARIS",),
    ),
)

CATEGORIES: tuple[Category, ...] = (
    Category(
        "POLO",
        "KNIT TOP",
        ALPHA,
        ALPHA_CURVE,
        "Men's Performance Polo",
        "KJ-150",
        "Jersey 150 gsm, moisture wicking",
        "88% POLYESTER 12% SPANDEX",
        "6105.20.2010",
        3200,
        (900, 1500),
    ),
    Category(
        "QUARTER-ZIP",
        "KNIT TOP",
        ALPHA,
        ALPHA_CURVE,
        "Men's Quarter-Zip Pullover",
        "KF-240",
        "Brushed back fleece 240 gsm",
        "92% POLYESTER 8% SPANDEX",
        "6110.30.3053",
        3200,
        (1400, 2400),
    ),
    Category(
        "HOODIE",
        "KNIT TOP",
        ALPHA,
        ALPHA_CURVE,
        "Men's Lightweight Hoodie",
        "KT-280",
        "French terry 280 gsm",
        "60% COTTON 40% POLYESTER",
        "6110.20.2079",
        1650,
        (1500, 2600),
    ),
    Category(
        "TEE",
        "KNIT TOP",
        ALPHA,
        ALPHA_CURVE,
        "Men's Crew Neck Tee",
        "KJ-180",
        "Combed cotton jersey 180 gsm",
        "100% COTTON",
        "6109.10.0012",
        1650,
        (500, 900),
    ),
    Category(
        "PANT",
        "WOVEN BOTTOM",
        WAIST,
        WAIST_CURVE,
        "Men's 5-Pocket Performance Pant",
        "WS-210",
        "Four-way stretch twill 210 gsm",
        "90% NYLON 10% SPANDEX",
        "6203.43.4010",
        2790,
        (1600, 2800),
    ),
    Category(
        "SHORT",
        "WOVEN BOTTOM",
        WAIST,
        WAIST_CURVE,
        "Men's Flat-Front Golf Short",
        "WS-180",
        "Stretch woven 180 gsm",
        "90% POLYESTER 10% SPANDEX",
        "6203.43.4020",
        2790,
        (1100, 1900),
    ),
    Category(
        "SKORT",
        "WOVEN BOTTOM",
        WOMENS,
        WOMENS_CURVE,
        "Women's Pull-On Skort",
        "WS-160",
        "Stretch woven 160 gsm with built-in short",
        "87% NYLON 13% SPANDEX",
        "6204.63.3532",
        2820,
        (1000, 1700),
    ),
    Category(
        "VEST",
        "OUTERWEAR",
        ALPHA,
        ALPHA_CURVE,
        "Women's Quilted Vest",
        "WQ-080",
        "Quilted ripstop shell, recycled fill",
        "100% RECYCLED POLYESTER",
        "6202.40.2000",
        2700,
        (1800, 3000),
    ),
    Category(
        "JACKET",
        "OUTERWEAR",
        ALPHA,
        ALPHA_CURVE,
        "Men's Full-Zip Rain Jacket",
        "WR-120",
        "2.5-layer waterproof shell",
        "100% POLYESTER",
        "6201.40.2000",
        2700,
        (2400, 3800),
    ),
)

# (board colour, customer colour name, colour code)
COLORS: tuple[tuple[str, str, str], ...] = (
    ("BLACK", "Black", "001"),
    ("WHITE", "White", "100"),
    ("NAVY", "Maritime Navy", "410"),
    ("HEATHER GREY", "Heather Grey", "030"),
    ("CAFÉ CRÈME", "Café Crème", "250"),
    ("ROSÉ", "Rosé", "660"),
    ("ST. ANDREW'S PLAID", "St. Andrew's Plaid", "905"),
    ("SAGE", "Sage", "310"),
    ("MAUI BLUE", "Maui Blue", "440"),
    ("SHEPHERD", "Shepherd", "022"),
    ("BURGUNDY", "Burgundy", "610"),
    ("KHAKI", "Khaki", "260"),
)

# (season, AAG season code, customer season label, first ex-factory day, window length in days)
SEASONS: tuple[tuple[str, str, str, date, int], ...] = (
    ("FALL 2025", "FA25", "FALL '25", date(2025, 5, 1), 70),
    ("HOLIDAY 2025", "HO25", "HOLIDAY '25", date(2025, 7, 15), 60),
    ("SPRING 2026", "SP26", "SPRING '26", date(2025, 10, 15), 80),
    ("SUMMER 2026", "SU26", "SUMMER '26", date(2026, 1, 15), 60),
)

# (factory, country, ports of loading)
FACTORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("SHANGHAI JINGYU KNITTING CO.", "CHINA", ("SHANGHAI", "NINGBO")),
    ("NINGBO HAIXIN GARMENTS", "CHINA", ("NINGBO",)),
    ("VIỆT TIẾN GARMENT JSC", "VIETNAM", ("HO CHI MINH CITY",)),
    ("HAI PHONG APPAREL CO.", "VIETNAM", ("HAI PHONG",)),
    ("PT EVERSHINE TEXTILE", "INDONESIA", ("JAKARTA",)),
    ("TEXTILES DEL SUR S.A.C.", "PERU", ("CALLAO",)),
    ("DHAKA KNIT APPAREL LTD", "BANGLADESH", ("CHATTOGRAM",)),
)

# destination -> (port of discharge, ship-to address)
DESTINATIONS: dict[str, tuple[str, str]] = {
    "USA - NEW YORK": ("NEWARK, NJ", "Distribution Center, 400 Raritan Center Pkwy, Edison, NJ 08837"),
    "USA - LOS ANGELES": ("LOS ANGELES, CA", "West Coast DC, 1200 E Dominguez St, Carson, CA 90746"),
    "USA - NEW BEDFORD": ("BOSTON, MA", "Apparel DC, 333 Bridge St, Fairhaven, MA 02719"),
    "USA - RALEIGH": ("NORFOLK, VA", "Main Warehouse, 1000 Perimeter Park Dr, Morrisville, NC 27560"),
    "CANADA - TORONTO": ("MONTRÉAL, QC", "Golf Canada DC, 55 Tempo Ave, North York, ON M2H 2R9"),
    "UK - LONDON": ("FELIXSTOWE", "Unit 4, Heathrow Trade Park, Hounslow TW4 6JS"),
    "FRANCE - PARIS": ("LE HAVRE", "Entrepôt Nord, 12 rue de l'Industrie, 95100 Argenteuil"),
}

DELIVERY_METHODS = (
    ("OCEAN", 70, (26, 36)),
    ("AIR", 15, (4, 7)),
    ("SEA/AIR", 10, (14, 18)),
    ("COURIER", 5, (3, 5)),
)
ORDER_TYPES = (("BULK", 70), ("REPEAT", 15), ("SMS", 10), ("REORDER", 5))
DROPS = ("DROP 1", "DROP 2", "DROP 3")
MERCHANDISERS = ("Ana Souza", "Kevin O'Brien", "Zoë Martínez", "Raj Patel", "Li Wei")
PRODUCTION_MANAGERS = ("Nguyễn Thị Lan", "Tom Becker", "Sofía Ramírez", "Chen Hao")
PACKING = (
    "SOLID SIZE PER CARTON, 24 UNITS",
    "SOLID SIZE PER CARTON, 36 UNITS",
    "ASSORTED RATIO PACK, SEE PACKING LIST",
    "FLAT PACK, FOLDED WITH TISSUE",
)
LABELS = ("CUSTOMER MAIN LABEL + HANGTAG", "CUSTOMER LABEL, NO HANGTAG", "AAG GENERIC LABEL")
DELAY_REASONS = (
    "FABRIC DELAY",
    "LAB DIP RE-SUBMIT",
    "FACTORY CAPACITY",
    "CUSTOMER'S ARTWORK LATE",
    "TRIMS DELAY",
)
VESSELS = (
    "MAERSK KENTUCKY V.245E",
    "CMA CGM ROSSINI V.0TX1E",
    "ONE HARMONY V.078E",
    "MSC AURORA V.FA522A",
    "EVER LUCID V.1187-013E",
)
FLIGHTS = ("CX 880", "KE 017", "VN 98", "CI 4", "EK 215")
CARRIER_PREFIXES = ("MSKU", "CMAU", "ONEU", "MSCU", "EGHU")
NOTES = (
    "Customer requested earlier ship – confirm with factory",
    "Lab dip approved, bulk fabric in production",
    "Hold for customer's credit approval",
    "Fit comments sent to factory, résumé of changes attached on board",
    "Trims from customer's nominated supplier",
    "PP sample re-submitted after size M fit issue",
    "Split shipment allowed: air for first 30%",
    "Café Crème shade band approved by buyer",
    "Price pending final costing",
    'Use customer\'s carton marks (see "shipping marks" doc)',
)


# --------------------------------------------------------------------------- SQL rendering


@dataclass(frozen=True)
class Guid:
    """A UNIQUEIDENTIFIER value, rendered as a plain (non-N) string literal."""

    text: str


Value = str | int | Decimal | date | Guid | None


def sql_literal(value: Value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Guid):
        return f"'{value.text}'"
    if isinstance(value, str):
        if "\n" in value or "\r" in value or ";" in value:
            raise ValueError(f"sample text must be one line without semicolons: {value!r}")
        return "N'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):  # bool is an int subclass: refuse it rather than print True
        raise TypeError("booleans are not used in the sample data")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value.quantize(_Q4, rounding=ROUND_HALF_UP), "f")
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


# Columns the DDL declares without brackets. Every board column is bracketed, as in the DDL,
# which also keeps reserved words such as [DROP] and [Group] safe.
BARE_COLUMNS = frozenset({"ORDER_QTY", "Size", "synced_at"})


def quote_column(name: str) -> str:
    if name in BARE_COLUMNS or name.startswith("stg_"):
        return name
    return f"[{name}]"


def render_insert(table: str, rows: Sequence[dict[str, Value]]) -> str:
    columns = list(rows[0])
    for row in rows:
        if list(row) != columns:
            raise ValueError(f"rows for {table} do not share one column list")
    lines = [f"INSERT INTO {table} ("]
    lines.extend(_wrap([quote_column(c) for c in columns], indent="    "))
    lines.append(") VALUES")
    body = ["    (" + ", ".join(sql_literal(row[c]) for c in columns) + ")" for row in rows]
    lines.append(",\n".join(body) + ";")
    return "\n".join(lines)


def _wrap(items: Iterable[str], indent: str, width: int = 100) -> list[str]:
    out: list[str] = []
    line = ""
    for item in items:
        piece = item + ","
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            out.append(indent + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    out.append(indent + line)
    out[-1] = out[-1].rstrip(",")
    return out


def chunks(rows: Sequence[dict[str, Value]], size: int) -> list[Sequence[dict[str, Value]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


# --------------------------------------------------------------------------- data generation


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(_Q4)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q4, rounding=ROUND_HALF_UP)


def _cents(value: Decimal) -> Decimal:
    """Round a price to whole cents (kept at the column's four decimal places)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).quantize(_Q4)


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]


def _upc(rng: random.Random) -> str:
    digits = "8" + "".join(str(rng.randrange(10)) for _ in range(10))
    odd = sum(int(d) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return digits + str((10 - (odd * 3 + even) % 10) % 10)


def _guid(rng: random.Random) -> Guid:
    return Guid(str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper())


@dataclass
class Order:
    board: dict[str, Value]  # business columns, shared by mirror and staging
    subitems: list[dict[str, Value]]  # one per size: subitem business values
    batch_id: Guid
    customer_batch: str
    staged: date
    processed: date


def _size_lines(rng: random.Random, category: Category, order_type: str) -> list[tuple[str, int]]:
    count = rng.randint(3, min(6, len(category.sizes)))
    start = rng.randint(0, len(category.sizes) - count)
    sizes = category.sizes[start : start + count]
    curve = category.curve[start : start + count]
    total = rng.randint(10, 60) * 6 if order_type == "SMS" else rng.randint(60, 600) * 6
    share = sum(curve)
    return [
        (size, max(6, round(total * weight / share / 6) * 6))
        for size, weight in zip(sizes, curve, strict=True)
    ]


def _progress(rng: random.Random, status: str, qty: int, cutting: bool) -> dict[str, int | None]:
    """Quantities of one size line for an order in ``status``."""
    none: dict[str, int | None] = {"cut": None, "sew": None, "finish": None, "packed": None, "shipped": None}
    if status == "RECEIVED":
        return none
    if status == "CANCELLED":
        return {"cut": 0, "sew": 0, "finish": 0, "packed": 0, "shipped": 0}
    if status == "ON HOLD":
        if not cutting:
            return none
        cut = qty * rng.randint(20, 80) // 100
        return {"cut": cut, "sew": cut * rng.randint(0, 60) // 100, "finish": 0, "packed": 0, "shipped": 0}
    cut = qty + qty * rng.randint(0, 3) // 100
    if status == "SHIPPED":
        shipped = min(cut, qty - qty * rng.randint(0, 2) // 100)
        return {"cut": cut, "sew": cut, "finish": cut, "packed": shipped, "shipped": shipped}
    sew = cut * rng.randint(40, 100) // 100
    finish = sew * rng.randint(30, 100) // 100
    packed = finish * rng.randint(0, 100) // 100
    return {"cut": cut, "sew": sew, "finish": finish, "packed": packed, "shipped": 0}


def _line_status(status: str, qty: int, progress: dict[str, int | None]) -> str:
    if status == "RECEIVED":
        return "OPEN"
    if status == "IN PRODUCTION" and (progress["packed"] or 0) >= qty:
        return "PACKED"
    return status


def _sum(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def make_order(rng: random.Random, index: int, item_id: int, batches: dict[tuple[str, date], Guid]) -> Order:
    customer = rng.choices(CUSTOMERS, weights=[c.weight for c in CUSTOMERS])[0]
    category = rng.choice(CATEGORIES)
    color, customer_color, color_code = rng.choice(COLORS)
    season, aag_season, customer_season, window_start, window_days = rng.choice(SEASONS)
    drop_no = rng.randrange(len(DROPS))
    factory, country, ports = rng.choice(FACTORIES)
    destination = rng.choice(customer.destinations)
    discharge, ship_to = DESTINATIONS[destination]
    method = _weighted(rng, [(m[0], m[1]) for m in DELIVERY_METHODS])
    transit = next(m[2] for m in DELIVERY_METHODS if m[0] == method)
    order_type = _weighted(rng, ORDER_TYPES)

    style_no = rng.randint(100, 899)
    customer_style = f"{customer.style_prefix}{aag_season[2:]}{style_no}"
    aag_style = f"AAG-{category.name[:2]}{aag_season[2:]}{style_no:03d}"
    aag_order = f"AAG{aag_season}-{index + 1:04d}"
    po_number = f"{customer.po_prefix}{rng.randint(100000, 999999)}"

    # dates: everything hangs off the agreed ex-factory date
    original_xf = window_start + timedelta(days=rng.randrange(window_days) + 21 * drop_no)
    revised_xf = original_xf + timedelta(days=rng.randint(7, 21)) if rng.random() < 0.25 else None
    effective_xf = revised_xf or original_xf
    ordered = min(
        original_xf - timedelta(days=rng.randint(75, 140)), SNAPSHOT_DATE - timedelta(days=rng.randint(3, 60))
    )
    eta = effective_xf + timedelta(days=rng.randint(*transit))
    in_dc = eta + timedelta(days=rng.randint(2, 7))
    cut_start = effective_xf - timedelta(days=rng.randint(30, 38))
    final_inspection = effective_xf - timedelta(days=rng.randint(2, 4))

    roll = rng.random()
    if roll < 0.05:
        status = "CANCELLED"
    elif roll < 0.10:
        status = "ON HOLD"
    elif effective_xf <= SNAPSHOT_DATE:
        status = "SHIPPED"
    elif cut_start <= SNAPSHOT_DATE:
        status = "IN PRODUCTION"
    else:
        status = "RECEIVED"

    lines = _size_lines(rng, category, order_type)
    progress = [_progress(rng, status, qty, cut_start <= SNAPSHOT_DATE) for _, qty in lines]

    # prices
    cost = _money(rng.randint(*category.cost_cents))
    fob = _cents(cost * (Decimal(100 + rng.randint(12, 22)) / 100))
    final_prices = "Y" if rng.random() < 0.75 else "N"
    usa = destination.startswith("USA")
    duty = _q(Decimal(category.duty_bp) / 100)
    freight = _money(rng.randint(250, 420) if method in ("AIR", "COURIER") else rng.randint(35, 120))
    priced = final_prices == "Y" or rng.random() < 0.5
    ddp = _cents(fob * (1 + duty / 100) + freight) if usa and priced else None
    retail = Decimal(int(fob * Decimal("3.6") / 5) * 5 + 5) - Decimal("0.01") if rng.random() < 0.8 else None

    shipped_total = _sum(p["shipped"] for p in progress)
    packed_total = _sum(p["packed"] for p in progress)
    packing = rng.choice(PACKING)
    carton_size = 36 if "36 UNITS" in packing else 24
    is_shipped = status == "SHIPPED"
    air = method in ("AIR", "COURIER")

    group = {"SHIPPED": "Shipped", "CANCELLED": "Cancelled"}.get(status, "Active Orders")
    board: dict[str, Value] = {
        "Name": f"{aag_order} | {customer_style} | {color}",
        "AAG ORDER NUMBER": aag_order,
        "CUSTOMER": customer.name,
        "PO NUMBER": po_number,
        "CUSTOMER STYLE": customer_style,
        "STYLE": aag_style,
        "COLOR": color,
        "STYLE DESCRIPTION": f"{category.description} - {customer_color}",
        "ORDER QTY": sum(qty for _, qty in lines),
        "ORDER DATE PO RECEIVED": ordered,
        "CUSTOMER EX FACTORY DATE": original_xf,
        "CUSTOMER IN DC DATE": in_dc,
        "ETA CUSTOMER WAREHOUSE DATE": eta if rng.random() < 0.9 else None,
        "FINAL FOB (USD)": fob,
        "USA ONLY LSTP 75% EX WORKS": _q(fob * Decimal("0.75")) if usa else None,
        "DDP US (USD)": ddp,
        "FINAL PRICES Y/N": final_prices,
        "ORDER STATUS": status,
        "PLANNED DELIVERY METHOD": method,
        "SEASON": season,
        "DROP": DROPS[drop_no],
        "CATEGORY": category.name,
        "FACTORY": factory,
        "COUNTRY OF ORIGIN": country,
        "DESTINATION": destination,
        "CUSTOMER'S ALT PO": f"{po_number}-ALT{rng.randint(1, 9)}" if rng.random() < 0.15 else None,
        "NOTES": rng.choice(NOTES) if rng.random() < 0.6 else None,
        "TOTAL QTY SHIPPED": shipped_total,
        "ORDER TYPE": order_type,
        "CUSTOMER CONTACT EMAIL": rng.choice(customer.emails),
        "ALIAS/RE-BRANDED STYLE": f"{customer_style}-OUTLET" if rng.random() < 0.08 else None,
        "AAG SEASON": aag_season,
        "CUSTOMER SEASON": customer_season,
        "DIVISION": "WOMENS" if category.description.startswith("Women") else "MENS",
        "GENDER": "FEMALE" if category.description.startswith("Women") else "MALE",
        "PRODUCT TYPE": category.product_type,
        "COLOR CODE": color_code,
        "CUSTOMER COLOR NAME": customer_color,
        "FABRIC CODE": category.fabric_code,
        "FABRIC DESCRIPTION": category.fabric,
        "FIBER CONTENT": category.fiber,
        "FABRIC SUPPLIER": rng.choice(("EVERLIGHT TEXTILE", "FORMOSA TAFFETA", "TEXTILES DEL SUR")),
        "TRIMS DESCRIPTION": rng.choice(
            (
                "Custom engraved buttons, woven neck label",
                "YKK #5 coil zip, reflective heat transfer logo",
                "Silicone waistband gripper, printed care label",
                None,
            )
        ),
        "HTS CODE": category.hts,
        "DUTY RATE %": duty,
        "FACTORY COST (USD)": cost,
        "FREIGHT COST (USD)": freight,
        "CUSTOMER RETAIL PRICE (USD)": retail,
        "MARGIN %": _q((fob - cost) / fob * 100),
        "CURRENCY": "USD",
        "PAYMENT TERMS": customer.payment_terms,
        "INCOTERMS": "DDP" if ddp is not None and rng.random() < 0.3 else "FOB",
        "ORIGINAL EX FACTORY DATE": original_xf,
        "REVISED EX FACTORY DATE": revised_xf,
        "ACTUAL EX FACTORY DATE": effective_xf + timedelta(days=rng.randint(-2, 2)) if is_shipped else None,
        "CUSTOMER CANCEL DATE": in_dc + timedelta(days=rng.randint(14, 30)),
        "FABRIC READY DATE": effective_xf - timedelta(days=rng.randint(45, 60)),
        "TRIMS READY DATE": effective_xf - timedelta(days=rng.randint(40, 55)),
        "PP SAMPLE APPROVAL DATE": effective_xf - timedelta(days=rng.randint(50, 70)),
        "TOP SAMPLE SHIP DATE": effective_xf - timedelta(days=rng.randint(10, 20)),
        "CUT START DATE": cut_start,
        "SEW START DATE": cut_start + timedelta(days=rng.randint(3, 6)),
        "FINAL INSPECTION DATE": final_inspection,
        "FINAL INSPECTION RESULT": (
            rng.choice(("PASS", "PASS", "PASS", "FAIL - REINSPECT")) if is_shipped else None
        ),
        "PORT OF LOADING": rng.choice(ports),
        "PORT OF DISCHARGE": discharge,
        "VESSEL / FLIGHT": (rng.choice(FLIGHTS if air else VESSELS)) if is_shipped else None,
        "CONTAINER NUMBER": (
            f"{rng.choice(CARRIER_PREFIXES)}{rng.randint(1000000, 9999999)}"
            if is_shipped and not air
            else None
        ),
        "BILL OF LADING #": f"AAGBL{rng.randint(100000000, 999999999)}" if is_shipped else None,
        "COMMERCIAL INVOICE #": f"AAG-INV-{index + 1:06d}" if is_shipped else None,
        "CARTON COUNT": -(-packed_total // carton_size) if packed_total else None,
        "TOTAL QTY PACKED": packed_total,
        "TOTAL QTY CUT": _sum(p["cut"] for p in progress),
        "MERCHANDISER": rng.choice(MERCHANDISERS),
        "PRODUCTION MANAGER": rng.choice(PRODUCTION_MANAGERS),
        "CUSTOMER BUYER": rng.choice(customer.buyers),
        "CUSTOMER CONTACT PHONE": f"+1 858 555 {rng.randint(100, 199):04d}",
        "SHIP TO ADDRESS": ship_to,
        "PACKING INSTRUCTIONS": packing,
        "LABEL / HANGTAG": rng.choice(LABELS),
        "DELAY REASON": rng.choice(DELAY_REASONS) if revised_xf else None,
        "Item ID": item_id,
        "Group": group,
    }

    subitems: list[dict[str, Value]] = []
    for (size, qty), prog in zip(lines, progress, strict=True):
        subitems.append(
            {
                "Name": size,
                "Size": size,
                "Order Qty": qty,
                "Shipped Qty": prog["shipped"],
                "Packed Qty": prog["packed"],
                "Cut Qty": prog["cut"],
                "Sew Qty": prog["sew"],
                "Finishing Qty": prog["finish"],
                "ORDER LINE STATUS": _line_status(status, qty, prog),
                "SKU": f"{customer_style}-{color_code}-{size}",
                "UPC": _upc(rng),
            }
        )

    staged = min(ordered + timedelta(days=rng.randint(0, 2)), SNAPSHOT_DATE)
    processed = min(staged + timedelta(days=rng.randint(0, 1)), SNAPSHOT_DATE)
    key = (customer.code, staged)
    if key not in batches:
        batches[key] = _guid(rng)
    return Order(board, subitems, batches[key], f"{customer.code}_{staged:%Y%m%d}", staged, processed)


def make_orders(seed: int = SEED, count: int = ORDER_COUNT) -> list[Order]:
    rng = random.Random(seed)
    batches: dict[tuple[str, date], Guid] = {}
    orders = []
    item_id = FIRST_ITEM_ID
    for index in range(count):
        orders.append(make_order(rng, index, item_id, batches))
        item_id += rng.randint(1, 40_000)
    subitem_id = FIRST_SUBITEM_ID
    for order in orders:
        for sub in order.subitems:
            sub["Item ID"] = subitem_id
            subitem_id += rng.randint(1, 500)
    return orders


# --------------------------------------------------------------------------- tables


def mirror_rows(orders: Sequence[Order]) -> list[dict[str, Value]]:
    rows = []
    for order in orders:
        row: dict[str, Value] = {"Item ID": order.board["Item ID"]}
        row.update((k, v) for k, v in order.board.items() if k != "Item ID")
        rows.append(row)
    return rows


def mirror_subitem_rows(orders: Sequence[Order]) -> list[dict[str, Value]]:
    keep = ("Name", "Size", "Order Qty", "Shipped Qty", "Packed Qty", "ORDER LINE STATUS")
    rows = []
    for order in orders:
        for sub in order.subitems:
            row: dict[str, Value] = {"Item ID": sub["Item ID"], "Parent Item ID": order.board["Item ID"]}
            row.update((k, sub[k]) for k in keep)
            rows.append(row)
    return rows


def staging_rows(orders: Sequence[Order]) -> list[dict[str, Value]]:
    rows = []
    for order in orders:
        row: dict[str, Value] = {k: v for k, v in order.board.items() if k != "Name"}
        row.update(
            {
                "stg_batch_id": order.batch_id,
                "stg_customer_batch": order.customer_batch,
                "stg_status": "PROCESSED",
                "stg_monday_item_id": order.board["Item ID"],
                "stg_error_message": None,
                "stg_api_payload": None,
                "stg_retry_count": 0,
                "stg_created_date": order.staged,
                "stg_processed_date": order.processed,
            }
        )
        rows.append(row)
    return rows


def staging_subitem_rows(orders: Sequence[Order]) -> list[dict[str, Value]]:
    rows = []
    for order in orders:
        board = order.board
        for sub in order.subitems:
            rows.append(
                {
                    "stg_batch_id": order.batch_id.text,  # NVARCHAR(36) here, so an N'' literal
                    "stg_status": "PROCESSED",
                    "stg_monday_subitem_id": sub["Item ID"],
                    "stg_monday_parent_item_id": board["Item ID"],
                    "stg_monday_subitem_board_id": SUBITEM_BOARD_ID,
                    "stg_retry_count": 0,
                    "stg_created_date": order.staged,
                    "stg_processed_date": order.processed,
                    "Name": sub["Name"],
                    "AAG ORDER NUMBER": board["AAG ORDER NUMBER"],
                    "CUSTOMER": board["CUSTOMER"],
                    "STYLE": board["STYLE"],
                    "COLOR": board["COLOR"],
                    "PO NUMBER": board["PO NUMBER"],
                    "ORDER_QTY": sub["Order Qty"],
                    "Size": sub["Size"],
                    "Order Qty": sub["Order Qty"],
                    "Shipped Qty": sub["Shipped Qty"],
                    "Packed Qty": sub["Packed Qty"],
                    "Cut Qty": sub["Cut Qty"],
                    "Sew Qty": sub["Sew Qty"],
                    "Finishing Qty": sub["Finishing Qty"],
                    "ORDER LINE STATUS": sub["ORDER LINE STATUS"],
                    "UNIT OF MEASURE": "PCS",
                    "SKU": sub["SKU"],
                    "UPC": sub["UPC"],
                    "Item ID": sub["Item ID"],
                    "Parent Item ID": board["Item ID"],
                }
            )
    return rows


def render(seed: int = SEED, count: int = ORDER_COUNT) -> str:
    orders = make_orders(seed, count)
    tables = (
        ("dbo.MON_CustMasterSchedule", mirror_rows(orders)),
        ("dbo.MON_CustMasterSchedule_Subitems", mirror_subitem_rows(orders)),
        ("dbo.STG_MON_CustMasterSchedule", staging_rows(orders)),
        ("dbo.STG_MON_CustMasterSchedule_Subitems", staging_subitem_rows(orders)),
    )
    out = [
        f"-- GENERATED by sql/baseline/make_sample_data.py (seed {seed}). Do not edit by hand:",
        "-- change the generator and run it again. A unit test checks this file is up to date.",
        "--",
        "-- Sample data for the sandbox: the board mirror and the staging tables as the sync left them.",
    ]
    out.extend(f"--   {table}: {len(rows)} rows" for table, rows in tables)
    out.extend(["", "SET NOCOUNT ON;", "GO", ""])
    for table, rows in tables:
        for chunk in chunks(rows, ROWS_PER_INSERT):
            out.extend([render_insert(table, chunk), "GO", ""])
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(__file__).with_name(OUTPUT_NAME),
        help=f"where to write the SQL (default: {OUTPUT_NAME} next to this script)",
    )
    args = parser.parse_args(argv)
    args.output.write_bytes(render().encode("utf-8"))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
