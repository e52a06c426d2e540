"""Customers: one client base, phones in E.164, no phone or account owned twice."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.errors import Conflict, InvalidInput, NotFound
from crm_lookup.database import Dialect, Row, Transaction
from crm_lookup.models import TIERS, Customer
from crm_lookup.phones import Phone, parse_phone, try_normalize

if TYPE_CHECKING:
    from crm_lookup.store import Store

_TIER = re.compile(r"^[\w][\w -]{0,31}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TAG = re.compile(r"^[^\x00-\x1f,]{1,40}$")


# Words that name a kind of company, not a person: "Acme Ltd" and "Apex Ltd" share no surname.
_COMPANY_WORDS = frozenset(
    {"inc", "ltd", "llc", "llp", "plc", "corp", "gmbh", "ag", "srl", "bv", "oy", "ooo", "zao"}
)


def name_keys(name: str) -> tuple[str, str]:
    """The two keys likely duplicates are found by, each an indexed column.

    ``name_key``: the name with case, accents, punctuation and spacing ignored ("José
    Álvarez-Ruiz" and "jose  alvarez ruiz" are the same). ``surname_key``: the surname and
    the first given initial ("Ada Lovelace", "A. Lovelace" and "Lovelace, Ada" all give
    "lovelace a"); empty for a one-word name or a company's.
    """
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
    )
    words = re.findall(r"[^\W_]+", plain.casefold())
    key = " ".join(words)
    if len(words) < 2 or _COMPANY_WORDS.intersection(words):
        return key, ""
    surname, given = (words[0], words[1]) if "," in plain else (words[-1], words[0])
    return key, f"{surname} {given[0]}"


def select_customer(dialect: Dialect) -> str:
    """One round trip: the customer with its phones and accounts as JSON arrays."""
    phones = dialect.json_array("phone", "phones WHERE customer_id = c.id", "position, phone")
    accounts = dialect.json_array(
        "account", "accounts WHERE customer_id = c.id", "position, account"
    )
    return f"""
SELECT c.id, c.name, c.company, c.tier, c.language, c.email, c.tags, c.notes,
       c.created_at, c.updated_at, {phones} AS phones, {accounts} AS accounts
FROM customers c
"""


@dataclass(frozen=True, slots=True)
class CustomerFields:
    """Validated customer data, ready to store."""

    name: str
    phones: tuple[Phone, ...] = ()
    company: str = ""
    tier: str = "standard"
    language: str = ""
    email: str = ""
    accounts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str = ""


def _text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if _CONTROL.search(text):
        raise InvalidInput(f"{field} contains control characters", field=field)
    return text


def clean_tier(value: str) -> str:
    text = (value or "").strip() or "standard"
    for tier in TIERS:
        if text.lower() == tier.lower():
            return tier
    if not _TIER.match(text):
        raise InvalidInput(f"tier {text[:40]!r} is not a short word", field="tier")
    return text


def clean_customer(
    name: str,
    phones: Iterable[str] = (),
    *,
    company: str = "",
    tier: str = "standard",
    language: str = "",
    email: str = "",
    accounts: Iterable[str] = (),
    tags: Iterable[str] = (),
    notes: str = "",
    region: str = "US",
) -> CustomerFields:
    """Check and normalise customer data.

    Raises:
        InvalidInput: names the field: empty name, a bad phone, email, language, account...
    """
    clean_name = _text(name, "name", 200)
    if not clean_name:
        raise InvalidInput("name is required", field="name")
    parsed: list[Phone] = []
    for raw in phones:
        if not (raw or "").strip():
            continue
        phone = parse_phone(raw, region)
        if phone.e164 not in {p.e164 for p in parsed}:
            parsed.append(phone)
    lang = (language or "").strip().lower().replace("_", "-")
    if lang and not _LANGUAGE.match(lang):
        raise InvalidInput(
            f"language {language[:20]!r} is not a code like en or ru", field="language"
        )
    mail = (email or "").strip()
    if mail and (len(mail) > 254 or not _EMAIL.match(mail)):
        raise InvalidInput(f"email {mail[:60]!r} is not an address", field="email")
    accts: list[str] = []
    for raw in accounts:
        acct = (raw or "").strip()
        if not acct:
            continue
        if not _ACCOUNT.match(acct):
            raise InvalidInput(
                f"account {acct[:40]!r} must be letters, digits or -", field="account"
            )
        if acct not in accts:
            accts.append(acct)
    clean_tags: list[str] = []
    for raw in tags:
        tag = (raw or "").strip()
        if not tag:
            continue
        if not _TAG.match(tag):
            raise InvalidInput(f"tag {tag[:40]!r} is not a short label", field="tags")
        if tag not in clean_tags:
            clean_tags.append(tag)
    return CustomerFields(
        name=clean_name,
        phones=tuple(parsed),
        company=_text(company, "company", 200),
        tier=clean_tier(tier),
        language=lang,
        email=mail,
        accounts=tuple(accts),
        tags=tuple(clean_tags),
        notes=_text(notes, "notes", 10_000),
    )


def customer_from_row(row: Row | Sequence[Any]) -> Customer:
    return Customer(
        id=int(row[0]),
        name=row[1],
        company=row[2],
        tier=row[3],
        language=row[4],
        email=row[5],
        tags=tuple(json.loads(row[6])),
        notes=row[7],
        created_at=row[8],
        updated_at=row[9],
        phones=tuple(json.loads(row[10])),
        accounts=tuple(json.loads(row[11])),
    )


class CustomerRepo:
    """Customers, their phones and account numbers."""

    def __init__(self, store: Store) -> None:
        self._store = store
        dialect = store.dialect
        self._select = select_customer(dialect)
        # Names sort and match ignoring case (SQLite: a NOCASE column).
        by_name = " ORDER BY " + dialect.fold("c.name") + ", c.id"
        self._name_starts = " WHERE " + dialect.like("c.name", "?1") + by_name + " LIMIT ?2"
        self._text_contains = (
            " WHERE "
            + " OR ".join(dialect.like(f"c.{col}", "?1") for col in ("name", "company", "email"))
            + by_name
            + " LIMIT ?2"
        )

    @property
    def region(self) -> str:
        return self._store.default_region

    async def _check_free(
        self,
        db: Transaction,
        phones: Iterable[str],
        accounts: Iterable[str],
        owner: int | None,
    ) -> None:
        for phone in phones:
            row = await db.fetchone("SELECT customer_id FROM phones WHERE phone = ?", (phone,))
            if row is not None and row[0] != owner:
                raise Conflict(f"phone {phone} already belongs to customer {row[0]}")
        for account in accounts:
            row = await db.fetchone(
                "SELECT customer_id FROM accounts WHERE account = ?", (account,)
            )
            if row is not None and row[0] != owner:
                raise Conflict(f"account {account} already belongs to customer {row[0]}")

    async def _write_numbers(
        self, db: Transaction, customer_id: int, fields: CustomerFields
    ) -> None:
        await db.execute("DELETE FROM phones WHERE customer_id = ?", (customer_id,))
        await db.execute("DELETE FROM accounts WHERE customer_id = ?", (customer_id,))
        await db.executemany(
            "INSERT INTO phones(phone, customer_id, extension, position) VALUES (?, ?, ?, ?)",
            [(p.e164, customer_id, p.extension, i) for i, p in enumerate(fields.phones)],
        )
        await db.executemany(
            "INSERT INTO accounts(account, customer_id, position) VALUES (?, ?, ?)",
            [(a, customer_id, i) for i, a in enumerate(fields.accounts)],
        )

    async def add(
        self,
        name: str,
        phones: Iterable[str] = (),
        *,
        company: str = "",
        tier: str = "standard",
        language: str = "",
        email: str = "",
        accounts: Iterable[str] = (),
        tags: Iterable[str] = (),
        notes: str = "",
    ) -> Customer:
        """Create a customer.

        Raises:
            InvalidInput: a field is malformed (see :func:`clean_customer`).
            Conflict: one of the phones or accounts already belongs to another customer.
        """
        fields = clean_customer(
            name,
            phones,
            company=company,
            tier=tier,
            language=language,
            email=email,
            accounts=accounts,
            tags=tags,
            notes=notes,
            region=self.region,
        )
        now = time.time()
        async with self._store.transaction() as db:
            await self._check_free(db, [p.e164 for p in fields.phones], fields.accounts, None)
            customer_id = await db.insert(
                "INSERT INTO customers(name, company, tier, language, email, tags, notes,"
                " created_at, updated_at, name_key, surname_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields.name,
                    fields.company,
                    fields.tier,
                    fields.language,
                    fields.email,
                    json.dumps(list(fields.tags)),
                    fields.notes,
                    now,
                    now,
                    *name_keys(fields.name),
                ),
            )
            await self._write_numbers(db, customer_id, fields)
        return await self.get(customer_id)

    async def get(self, customer_id: int) -> Customer:
        """Raises NotFound."""
        row = await self._store.fetchone(self._select + " WHERE c.id = ?", (customer_id,))
        if row is None:
            raise NotFound(f"no customer {customer_id}")
        return customer_from_row(row)

    async def update(self, customer_id: int, **changes: Any) -> Customer:
        """Change some fields; ``phones`` / ``accounts`` / ``tags`` replace the whole list.

        Raises:
            NotFound: no such customer.
            InvalidInput: an unknown field or a malformed value.
            Conflict: a new phone or account belongs to someone else.
        """
        allowed = {
            "name",
            "phones",
            "company",
            "tier",
            "language",
            "email",
            "accounts",
            "tags",
            "notes",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}", field=min(unknown))
        current = await self.get(customer_id)
        merged: dict[str, Any] = {
            "name": current.name,
            "phones": current.phones,
            "company": current.company,
            "tier": current.tier,
            "language": current.language,
            "email": current.email,
            "accounts": current.accounts,
            "tags": current.tags,
            "notes": current.notes,
        }
        merged.update(changes)
        name = merged.pop("name")
        phones = merged.pop("phones")
        fields = clean_customer(name, phones, region=self.region, **merged)
        async with self._store.transaction() as db:
            await self._check_free(
                db, [p.e164 for p in fields.phones], fields.accounts, customer_id
            )
            # Extensions of unchanged phones survive: re-read them before rewriting.
            old_ext = {
                r[0]: r[1]
                for r in await db.fetchall(
                    "SELECT phone, extension FROM phones WHERE customer_id = ?", (customer_id,)
                )
            }
            fields = dataclasses.replace(
                fields,
                phones=tuple(
                    Phone(p.e164, p.extension or old_ext.get(p.e164, "")) for p in fields.phones
                ),
            )
            await db.execute(
                "UPDATE customers SET name = ?, company = ?, tier = ?, language = ?, email = ?,"
                " tags = ?, notes = ?, updated_at = ?, name_key = ?, surname_key = ? WHERE id = ?",
                (
                    fields.name,
                    fields.company,
                    fields.tier,
                    fields.language,
                    fields.email,
                    json.dumps(list(fields.tags)),
                    fields.notes,
                    time.time(),
                    *name_keys(fields.name),
                    customer_id,
                ),
            )
            await self._write_numbers(db, customer_id, fields)
        return await self.get(customer_id)

    async def add_phone(self, customer_id: int, phone: str) -> Customer:
        """Give a customer one more number (turning a "new caller" into a known one).

        Raises:
            NotFound, InvalidInput, Conflict: as for :meth:`update`.
        """
        current = await self.get(customer_id)
        return await self.update(customer_id, phones=[*current.phones, phone])

    async def find_by_phone(self, raw: str) -> Customer | None:
        """The customer owning this number, or None.

        Raises:
            InvalidInput: ``raw`` is not a phone number.
        """
        e164 = parse_phone(raw, self.region).e164
        row = await self._store.fetchone(
            self._select + " JOIN phones p ON p.customer_id = c.id WHERE p.phone = ?", (e164,)
        )
        return customer_from_row(row) if row else None

    async def find_by_email(self, address: str) -> Customer | None:
        """The customer with this e-mail address ignoring case (the oldest when several
        share it), or None, also for something that is not an address. One indexed
        lookup (migration 7's ``lower(email)`` index)."""
        mail = (address or "").strip()
        if not mail or len(mail) > 254 or "@" not in mail or any(ord(c) < 33 for c in mail):
            return None
        row = await self._store.fetchone(
            self._select + " WHERE lower(c.email) = lower(?) AND c.email != '' ORDER BY c.id"
            " LIMIT 1",
            (mail,),
        )
        return customer_from_row(row) if row else None

    async def find_by_account(self, account: str) -> Customer | None:
        """The customer with this account number, or None (also for malformed input)."""
        acct = (account or "").strip()
        if not _ACCOUNT.match(acct):
            return None
        row = await self._store.fetchone(
            self._select + " JOIN accounts a ON a.customer_id = c.id WHERE a.account = ?",
            (acct,),
        )
        return customer_from_row(row) if row else None

    async def search(self, text: str, limit: int = 20) -> list[Customer]:
        """Customers whose phone or account matches exactly, or whose name starts with
        ``text``, then those whose name, company or email contains it.

        Raises:
            InvalidInput: ``limit`` outside 1..500.
        """
        if not 1 <= limit <= 500:
            raise InvalidInput("limit must be between 1 and 500", field="limit")
        query = (text or "").strip()
        if not query:
            return []
        found: dict[int, Customer] = {}
        digits = re.sub(r"[\s()./-]", "", query)
        if re.fullmatch(r"\+?\d{6,}", digits):
            try:
                by_phone = await self.find_by_phone(query)
            except InvalidInput:
                by_phone = None
            if by_phone:
                found[by_phone.id] = by_phone
        by_account = await self.find_by_account(query)
        if by_account:
            found.setdefault(by_account.id, by_account)
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for sql, arg in (
            (self._name_starts, escaped + "%"),
            (self._text_contains, "%" + escaped + "%"),
        ):
            if len(found) >= limit:
                break
            for row in await self._store.fetchall(self._select + sql, (arg, limit)):
                found.setdefault(int(row[0]), customer_from_row(row))
        return list(found.values())[:limit]

    async def likely_duplicates(
        self, customer_id: int, limit: int = 10
    ) -> list[tuple[Customer, list[str]]]:
        """Other customers who are probably the same person, with why (strongest first):
        ``same_phone`` (this customer has called from a number that is theirs, compared in
        E.164), ``same_email`` (ignoring case), ``same_name`` (ignoring case, accents,
        punctuation and spacing) and ``similar_name`` (the same surname and initial). Each
        is one bounded lookup through an index, so this stays fast on a million customers.

        Raises:
            NotFound: no such customer.
            InvalidInput: ``limit`` outside 1..50.
        """
        if not 1 <= limit <= 50:
            raise InvalidInput("limit must be between 1 and 50", field="limit")
        me = await self.get(customer_id)
        reasons: dict[int, list[str]] = {}

        def add(rows: list[Any], reason: str) -> None:
            for row in rows:
                other = int(row[0])
                if other == customer_id:
                    continue
                why = reasons.setdefault(other, [])
                if reason not in why and not (reason == "similar_name" and "same_name" in why):
                    why.append(reason)

        callers = await self._store.fetchall(
            "SELECT DISTINCT caller FROM contacts WHERE customer_id = ? AND caller != '' LIMIT 50",
            (customer_id,),
        )
        numbers = sorted(
            {n for r in callers if (n := try_normalize(str(r[0]), self.region))} - set(me.phones)
        )
        if numbers:
            marks = ", ".join("?" for _ in numbers)
            add(
                await self._store.fetchall(
                    f"SELECT customer_id FROM phones WHERE phone IN ({marks}) LIMIT ?",
                    (*numbers, limit + 1),
                ),
                "same_phone",
            )
        if me.email:
            add(
                await self._store.fetchall(
                    "SELECT id FROM customers WHERE lower(email) = lower(?) AND email != ''"
                    " LIMIT ?",
                    (me.email, limit + 1),
                ),
                "same_email",
            )
        name_key, surname_key = name_keys(me.name)
        for column, key, reason in (
            ("name_key", name_key, "same_name"),
            ("surname_key", surname_key, "similar_name"),
        ):
            if key and len(reasons) <= limit:
                add(
                    await self._store.fetchall(
                        f"SELECT id FROM customers WHERE {column} = ? AND {column} != '' LIMIT ?",
                        (key, limit + 1),
                    ),
                    reason,
                )
        found: list[tuple[Customer, list[str]]] = []
        for other, why in reasons.items():
            if len(found) == limit:
                break
            with contextlib.suppress(NotFound):  # merged away meanwhile
                found.append((await self.get(other), why))
        return found

    async def fill_name_keys(self, batch: int = 2000) -> int:
        """Give every customer stored before migration 8 its duplicate keys; returns how
        many were filled. Walks the small partial index of unkeyed rows, so once done it
        costs one index probe (run at open)."""
        filled = 0
        after = 0
        while True:
            rows = await self._store.fetchall(
                "SELECT id, name FROM customers WHERE name_key = '' AND id > ? ORDER BY id LIMIT ?",
                (after, batch),
            )
            if not rows:
                return filled
            after = int(rows[-1][0])
            keyed = [(*name_keys(str(r[1])), int(r[0])) for r in rows]
            keyed = [k for k in keyed if k[0]]
            if keyed:
                async with self._store.transaction() as db:
                    await db.executemany(
                        "UPDATE customers SET name_key = ?, surname_key = ? WHERE id = ?", keyed
                    )
                filled += len(keyed)

    async def merged_into(self, customer_id: int) -> int | None:
        """The customer a merged-away ``customer_id`` joined, or None (never merged, or the
        id is a customer's again: SQLite may reuse the highest id after a delete)."""
        row = await self._store.fetchone(
            "SELECT kept_id FROM merged_customers m WHERE duplicate_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM customers WHERE id = m.duplicate_id)",
            (customer_id,),
        )
        return int(row[0]) if row else None

    async def count(self) -> int:
        row = await self._store.fetchone("SELECT count(*) FROM customers")
        return int(row[0]) if row else 0

    async def merge(self, keep: int, duplicate: int, actor: str = "system") -> Customer:
        """Join ``duplicate`` into ``keep``: its phones, accounts, contacts and cases move,
        blank fields of ``keep`` are filled from it, tags are united, notes appended; then
        the duplicate is deleted. One transaction; audited.

        Raises:
            InvalidInput: keep and duplicate are the same customer.
            NotFound: either does not exist.
        """
        if keep == duplicate:
            raise InvalidInput("cannot merge a customer into itself", field="duplicate")
        kept = await self.get(keep)
        dup = await self.get(duplicate)
        tags = list(dict.fromkeys([*kept.tags, *dup.tags]))
        notes = "\n".join(n for n in (kept.notes, dup.notes) if n)
        tier = kept.tier if kept.tier != "standard" else dup.tier
        async with self._store.transaction() as db:
            phone_base = len(kept.phones)
            await db.execute(
                "UPDATE phones SET customer_id = ?, position = position + ? WHERE customer_id = ?",
                (keep, phone_base, duplicate),
            )
            await db.execute(
                "UPDATE accounts SET customer_id = ?, position = position + ? WHERE customer_id = ?",
                (keep, len(kept.accounts), duplicate),
            )
            moved_contacts = await db.execute(
                "UPDATE contacts SET customer_id = ? WHERE customer_id = ?", (keep, duplicate)
            )
            moved_cases = await db.execute(
                "UPDATE cases SET customer_id = ? WHERE customer_id = ?", (keep, duplicate)
            )
            await db.execute(
                "UPDATE customers SET company = ?, tier = ?, language = ?, email = ?, tags = ?,"
                " notes = ?, updated_at = ? WHERE id = ?",
                (
                    kept.company or dup.company,
                    tier,
                    kept.language or dup.language,
                    kept.email or dup.email,
                    json.dumps(tags),
                    notes,
                    time.time(),
                    keep,
                ),
            )
            await db.execute("DELETE FROM customers WHERE id = ?", (duplicate,))
            # Who had merged into the duplicate now points to the kept customer too.
            await db.execute(
                "UPDATE merged_customers SET kept_id = ? WHERE kept_id = ?", (keep, duplicate)
            )
            await db.execute(
                "INSERT INTO merged_customers(duplicate_id, kept_id) VALUES (?, ?)",
                (duplicate, keep),
            )
            await db.execute(
                "INSERT INTO audit(at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
                (
                    time.time(),
                    actor,
                    "customer.merge",
                    f"customer:{keep}",
                    json.dumps(
                        {
                            "duplicate": duplicate,
                            "duplicate_name": dup.name,
                            "phones": list(dup.phones),
                            "accounts": list(dup.accounts),
                            "contacts": moved_contacts,
                            "cases": moved_cases,
                        }
                    ),
                ),
            )
        return await self.get(keep)
