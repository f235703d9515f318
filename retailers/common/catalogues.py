"""Shared, realistic catalogues for the generator: products, customers, stores.

One product catalogue serves every retailer, so the same SKU (and name) can be sold by
several of them, as in real life; each retailer stocks its own deterministic subset at its own
prices. Some names are non-ASCII on purpose ('Crème brûlée'): valid data that must round-trip.
Customers and stores are retailer-scoped ids in each retailer's own format.
"""

from __future__ import annotations

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
