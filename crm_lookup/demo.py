"""Demo customers for ``switchboard demo`` and the console: idempotent seeding.

Thirty customers on the fictional +1 555 000 xxxx range (the simulator's callers use
them: +15550001111 ... +15550009999 are the memorable ones), several tiers including
VIP, English and Russian speakers, 8-digit account numbers for the IVR, a few open
cases and past contacts with dispositions and notes. Seeding twice changes nothing: a
customer whose first phone is already stored is left alone, and past contacts are
written as milestones with fixed keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crm_lookup.store import Store


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    name: str
    phone: str
    account: str
    tier: str
    language: str
    company: str = ""
    email: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    case: str = ""
    # (queue, agent, disposition, notes, outcome, days ago)
    history: tuple[tuple[str, str, str, str, str, int], ...] = ()
    #: the case's priority: its SLA targets in config/sla.yaml
    case_priority: str = "normal"
    #: a knowledge-base article the agent used on the case's call (crm_lookup.knowledge)
    case_article: str = ""


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "Alice Morgan",
        "+15550001111",
        "10000001",
        "VIP",
        "en",
        "Morgan Logistics",
        "alice@morgan-logistics.example",
        ("fleet",),
        "Prefers a callback after 4 pm.",
        "Invoice dispute for March",
        (
            ("billing", "1001", "follow-up", "Disputes March invoice, sent copy.", "answered", 1),
            ("support", "1002", "resolved", "Password reset.", "answered", 20),
        ),
        case_article="Reading an invoice",
    ),
    DemoCustomer(
        "Ivan Petrov",
        "+15550002222",
        "10000002",
        "gold",
        "ru",
        "Petrov & Sons",
        "ivan@petrov.example",
        ("wholesale",),
        "Говорит по-русски.",
        "",
        (("sales", "1003", "sale", "Ordered 40 units.", "answered", 7),),
    ),
    DemoCustomer(
        "Maria Garcia",
        "+15550003333",
        "10000003",
        "preferred",
        "en",
        "",
        "maria.garcia@example.com",
        (),
        "",
        "Replacement router",
        # six days back: past the urgent resolution target on any week, so the SLA check
        # flags the breach and the cases report (last 7 days) shows it
        (("support", "1002", "escalated", "Router keeps rebooting.", "answered", 6),),
        case_priority="urgent",
        case_article="The router does not connect",
    ),
    DemoCustomer(
        "Olga Smirnova",
        "+15550004444",
        "10000004",
        "VIP",
        "ru",
        "Smirnova Design",
        "olga@smirnova.example",
        ("priority",),
        "Key account since 2019.",
        "",
        (
            ("sales", "1001", "resolved", "Contract renewal questions.", "answered", 2),
            ("sales", "", "", "", "abandoned_queue", 2),
        ),
    ),
    DemoCustomer(
        "James Wilson",
        "+15550005555",
        "10000005",
        "standard",
        "en",
        "",
        "",
        (),
        "",
        "",
        (("billing", "1003", "resolved", "Updated card on file.", "answered", 12),),
    ),
    DemoCustomer(
        "Natalia Ivanova",
        "+15550006666",
        "10000006",
        "gold",
        "ru",
        "",
        "",
        (),
        "",
        "Delivery delayed",
        (),
    ),
    DemoCustomer(
        "Robert Chen",
        "+15550007777",
        "10000007",
        "preferred",
        "en",
        "Chen Dental",
        "office@chendental.example",
        ("clinic",),
        "",
        "",
        (),
    ),
    DemoCustomer(
        "Dmitry Kuznetsov",
        "+15550008888",
        "10000008",
        "standard",
        "ru",
        "",
        "",
        (),
        "",
        "",
        (("support", "1002", "follow-up", "Will send logs.", "answered", 5),),
    ),
    DemoCustomer(
        "Emma Thompson",
        "+15550009999",
        "10000009",
        "VIP",
        "en",
        "Thompson Legal",
        "emma@thompsonlegal.example",
        ("legal", "priority"),
        "Always route to a senior agent.",
        "Data export request",
        (("support", "1001", "escalated", "Needs full data export.", "answered", 4),),
    ),
    DemoCustomer("Sergey Volkov", "+15550001234", "10000010", "gold", "ru", "Volkov Auto"),
    DemoCustomer("Linda Martinez", "+15550002345", "10000011", "standard", "en"),
    DemoCustomer("Anna Sokolova", "+15550003456", "10000012", "preferred", "ru"),
    DemoCustomer("Michael Brown", "+15550004567", "10000013", "standard", "en", "Brown Bakery"),
    DemoCustomer("Elena Popova", "+15550005678", "10000014", "gold", "ru"),
    DemoCustomer("David Lee", "+15550006789", "10000015", "standard", "en"),
    DemoCustomer(
        "Tatiana Lebedeva",
        "+15550007890",
        "10000016",
        "VIP",
        "ru",
        "Lebedeva Group",
        "tatiana@lebedeva.example",
        ("priority",),
    ),
    DemoCustomer("Sarah Johnson", "+15550008901", "10000017", "preferred", "en"),
    DemoCustomer("Alexei Novikov", "+15550009012", "10000018", "standard", "ru"),
    DemoCustomer("Daniel Kim", "+15550001010", "10000019", "gold", "en", "Kim Electronics"),
    DemoCustomer("Irina Morozova", "+15550002020", "10000020", "standard", "ru"),
    DemoCustomer("Jennifer White", "+15550003030", "10000021", "standard", "en"),
    DemoCustomer("Pavel Fedorov", "+15550004040", "10000022", "preferred", "ru"),
    DemoCustomer(
        "Thomas Anderson",
        "+15550005050",
        "10000023",
        "VIP",
        "en",
        "Metacortex",
        "t.anderson@metacortex.example",
    ),
    DemoCustomer("Yulia Orlova", "+15550006060", "10000024", "standard", "ru"),
    DemoCustomer("Christopher Davis", "+15550007070", "10000025", "gold", "en"),
    DemoCustomer("Mikhail Egorov", "+15550008080", "10000026", "standard", "ru"),
    DemoCustomer("Jessica Taylor", "+15550009090", "10000027", "preferred", "en"),
    DemoCustomer("Andrei Pavlov", "+15550001212", "10000028", "standard", "ru"),
    DemoCustomer("Kevin Moore", "+15550002323", "10000029", "standard", "en"),
    DemoCustomer("Svetlana Kozlova", "+15550003434", "10000030", "gold", "ru", "Kozlova Travel"),
)


async def seed_demo(store: Store) -> None:
    """Add the demo customers, their cases and past contacts; safe to run again."""
    now = time.time()
    for index, demo in enumerate(DEMO_CUSTOMERS):
        if await store.customers.find_by_phone(demo.phone) is not None:
            continue
        customer = await store.customers.add(
            demo.name,
            [demo.phone],
            company=demo.company,
            tier=demo.tier,
            language=demo.language,
            email=demo.email,
            accounts=[demo.account],
            tags=demo.tags,
            notes=demo.notes,
        )
        opened = False
        for n, (queue, agent, disposition, notes, outcome, days) in enumerate(demo.history):
            key = f"demo-{index:02d}-{n}"
            start = now - days * 86400 - 3600 * (n + 1)
            log = store.contacts
            await log.arrived(key, demo.phone, "+15550100000", at=start)
            await log.ivr_step(key, "main_menu", at=start + 2)
            await log.ivr_done(key, ["main_menu"], "queued", at=start + 8)
            await log.queued(key, queue, at=start + 8)
            if outcome == "answered":
                await log.offered(key, agent, at=start + 20)
                await log.answered(key, agent, at=start + 24)
                await log.ended(key, at=start + 24 + 180 + 40 * n, outcome="answered")
                contact = await log.get_by_key(key)
                await log.wrapup(contact.id, disposition, notes, at=start + 24 + 180 + 40 * n + 30)
                if demo.case and not opened:
                    opened = True
                    # opened on the customer's latest call, in its queue (so its agents and
                    # supervisors see it on /cases), its SLA clock counting from then in
                    # business hours (config/sla.yaml); the call is its first response
                    await store.cases.open(
                        customer.id,
                        demo.case,
                        status="open",
                        priority=demo.case_priority,
                        queue=queue,
                        contact_id=contact.id,
                        agent_id=agent,
                        actor="demo",
                        at=start + 24 + 120,
                    )
            else:
                await log.ended(key, at=start + 70, outcome=outcome)
        if demo.case and not opened:  # no answered call to open it on: opened now
            await store.cases.open(
                customer.id, demo.case, status="open", priority=demo.case_priority, actor="demo"
            )
