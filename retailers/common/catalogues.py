"""Shared, realistic catalogues for the generator: products, customers, stores.

One product catalogue serves every retailer, so the same SKU (and name) can be sold by
several of them, as in real life; each retailer stocks its own deterministic subset at its own
prices. Some names are non-ASCII on purpose ('Crème brûlée'): valid data that must round-trip.
Customers and stores are retailer-scoped ids in each retailer's own format.

Catalogues change over time (`on_day`, `attributes_on`): each retailer renames products, moves
them to another category and changes their prices on given days, a closed form of (retailer,
product, day), so any day's catalogue is known without replaying the ones before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CATALOGUE_SEED = 20240101

# category -> (base names, typical price in cents)
BASE_PRODUCTS: dict[str, tuple[list[str], int]] = {
    "Bakery": (["Sourdough Loaf", "Croissant", "Pain au chocolat", "Bagel", "Crème brûlée",
                "Baguette", "Brioche", "Apfelstrudel"], 450),
    "Dairy": (["Whole Milk", "Greek Yogurt", "Cheddar Cheese", "Brie de Meaux", "Butter",
               "Crème fraîche", "Skyr", "Emmentaler Käse"], 380),
    "Beverages": (["Orange Juice", "Sparkling Water", "Café au lait", "Green Tea", "Cola",
                   "Piña colada mix", "Espresso Beans", "Matcha 抹茶"], 520),
    "Produce": (["Bananas", "Avocados", "Jalapeño Peppers", "Tomatoes", "Blueberries",
                 "Honeycrisp Apples", "Spinach", "Lemons"], 300),
    "Snacks": (["Potato Chips", "Tortilla Chips", "Trail Mix", "Dark Chocolate", "Pretzels",
                "Smörgås Crackers", "Popcorn", "Granola Bars"], 350),
    "Electronics": (["USB-C Cable", "Wireless Mouse", "Bluetooth Speaker", "Headphones",
                     "Phone Charger", "HDMI Adapter", "Power Bank", "Smart Bulb"], 2999),
    "Home": (["Dish Soap", "Paper Towels", "Candle", "Storage Box", "Bath Towel",
              "Coffee Mug", "Kitchen Sponge", "Laundry Detergent"], 899),
    "Personal Care": (["Shampoo", "Toothpaste", "Hand Cream", "Deodorant", "Body Wash",
                       "Sunscreen SPF 50", "Lip Balm", "Razor"], 650),
}
VARIANTS = ["", " Organic", " Family Size", " Mini", " Premium", " Value Pack", " Édition Limitée", " Bio"]


@dataclass(frozen=True)
class Products:
    sku: np.ndarray        # str, e.g. "SKU-10042" (same SKU = same product at every retailer)
    name: np.ndarray       # str
    category: np.ndarray   # str
    price_cents: np.ndarray  # int64 list price


@lru_cache(maxsize=None)
def products() -> Products:
    """All products (8 categories x 8 names x 8 variants = 512), fixed forever by CATALOGUE_SEED."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    skus, names, cats, prices = [], [], [], []
    number = 10001
    for category, (bases, typical) in BASE_PRODUCTS.items():
        for base in bases:
            for variant in VARIANTS:
                skus.append(f"SKU-{number}")
                names.append(f"{base}{variant}")
                cats.append(category)
                prices.append(int(typical * rng.uniform(0.4, 2.5)) // 10 * 10 + 9)
                number += 1
    return Products(np.array(skus), np.array(names), np.array(cats), np.array(prices, dtype=np.int64))


@lru_cache(maxsize=None)
def assortment(retailer_number: int) -> tuple[np.ndarray, np.ndarray]:
    """(product indexes, price in cents) a retailer stocks: ~70% of the catalogue, own prices.

    Subsets of 70% overlap heavily, so many SKUs are sold by two or three retailers.
    """
    rng = np.random.default_rng([CATALOGUE_SEED, retailer_number])
    catalogue = products()
    n = len(catalogue.sku)
    picked = np.sort(rng.choice(n, size=int(n * 0.7), replace=False))
    markup = rng.uniform(0.9, 1.1, size=len(picked))
    prices = np.maximum((catalogue.price_cents[picked] * markup).astype(np.int64), 49)
    return picked, prices


CUSTOMER_FORMATS = {1: "CUST-{:05d}", 2: "MEM-{:06d}", 3: "BUY-{:05d}", 4: "CLI-{:06d}"}
STORE_FORMATS = {1: "STORE-{:03d}", 2: "LOC-{:02d}", 3: "OUT-{:03d}", 4: "BTQ-PAR-{:02d}"}
N_CUSTOMERS = {1: 5000, 2: 8000, 3: 3000, 4: 6000}
N_STORES = {1: 25, 2: 12, 3: 40, 4: 18}


@lru_cache(maxsize=None)
def customers(retailer_number: int) -> np.ndarray:
    fmt = CUSTOMER_FORMATS[retailer_number]
    return np.array([fmt.format(i) for i in range(1, N_CUSTOMERS[retailer_number] + 1)])


@lru_cache(maxsize=None)
def stores(retailer_number: int) -> np.ndarray:
    fmt = STORE_FORMATS[retailer_number]
    return np.array([fmt.format(i) for i in range(1, N_STORES[retailer_number] + 1)])


# -- catalogue changes ---------------------------------------------------------------------------
CHANGE_EPOCH = dt.date(2024, 1, 1)  # no change before this day: the catalogue of products()
CHANGE_EVERY_DAYS = 21              # each product changes every 21 days, from its own offset
CHANGE_KINDS = ("rename", "move", "price")
RENAMES = ["", " (New Recipe)", " Classic", " Plus", " Original", " Select"]
CATEGORIES = list(BASE_PRODUCTS)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised: a well-spread uint64 per input."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=4096)
def on_day(retailer_number: int, day: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(name, category, price factor) of every product of `products()` at the retailer on `day`.

    Product i changes on CHANGE_EPOCH + offset_i + k * CHANGE_EVERY_DAYS (k = 1, 2, ...); event k
    is a rename, a category move or a price change (x0.85 .. x1.25 of the retailer's price), drawn
    from a hash of (CATALOGUE_SEED, retailer, i, k). Deterministic, stateless, cached per day."""
    catalogue = products()
    n = len(catalogue.sku)
    index = np.arange(n, dtype=np.uint64)
    base = _mix(np.uint64(CATALOGUE_SEED) * np.uint64(1_000_003) + np.uint64(retailer_number) * np.uint64(7919)
                + index * np.uint64(2_654_435_761))
    offset = (base % np.uint64(CHANGE_EVERY_DAYS)).astype(np.int64)
    events = np.clip(((day - CHANGE_EPOCH).days - offset) // CHANGE_EVERY_DAYS, 0, None)
    rename = np.zeros(n, dtype=np.int64)
    category = np.array([CATEGORIES.index(c) for c in catalogue.category], dtype=np.int64)
    factor = np.ones(n)
    for k in range(1, int(events.max(initial=0)) + 1):
        due = events >= k
        draw = _mix(base ^ np.uint64((k * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF))
        kind = (draw % np.uint64(3)).astype(np.int64)
        value = (draw >> np.uint64(8)).astype(np.int64) & 0xFFFF
        renamed, moved, repriced = due & (kind == 0), due & (kind == 1), due & (kind == 2)
        rename[renamed] = (rename[renamed] + 1 + value[renamed] % (len(RENAMES) - 1)) % len(RENAMES)
        category[moved] = (category[moved] + 1 + value[moved] % (len(CATEGORIES) - 1)) % len(CATEGORIES)
        factor[repriced] = 0.85 + (value[repriced] % 41) / 100
    names = np.array([f"{name}{RENAMES[r]}" for name, r in zip(catalogue.name, rename)], dtype=object)
    return names, np.array(CATEGORIES, dtype=object)[category], factor


def attributes_on(retailer_number: int, product: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(name, category, price factor) of each sold `product` (indexes into products()) on its
    `days` (datetime64[D] per row)."""
    names = np.empty(len(product), dtype=object)
    categories = np.empty(len(product), dtype=object)
    factors = np.ones(len(product))
    for day in np.unique(days):
        rows = days == day
        name, category, factor = on_day(retailer_number, dt.date.fromisoformat(str(day)))
        names[rows], categories[rows], factors[rows] = name[product[rows]], category[product[rows]], factor[product[rows]]
    return names, categories, factors
