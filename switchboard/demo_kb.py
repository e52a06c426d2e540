"""The demo's knowledge base: thirty articles a contact-center team would write, in
English and some in Russian, owned by the demo supervisor, with a few uses and votes so
the panel's "most used" list and the counters show something on first sight.

Seeded once: a demo database that already has articles is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crm_lookup.demo import DemoCustomer
from crm_lookup.store import Store

OWNER = "sam"

# (title, tags, language, body in Markdown)
ARTICLES: tuple[tuple[str, str, str, str], ...] = (
    ("Refunding a card payment", "billing refunds", "en",
     "1. Open the order in the back office.\n2. Choose **Refund** and the amount.\n3. Read "
     "the confirmation number to the customer.\n\nRefunds reach the card in **3–5 business "
     "days**. Partial refunds are allowed; never refund while a chargeback is open."),
    ("Chargebacks and disputed charges", "billing", "en",
     "When the bank opens a dispute the payment is held until it is settled. Tell the "
     "customer we will answer the bank within 7 days. Do **not** issue a refund: the "
     "customer would be paid twice."),
    ("Updating an expired card", "billing payments", "en",
     "When a card expires the next charge fails and we retry three times over a week. The "
     "customer updates the card under *Account → Payment methods*; we never take card "
     "numbers on the phone."),
    ("Reading an invoice", "billing invoices", "en",
     "An invoice lists the plan, the period, usage above the plan and tax. Usage charges "
     "are for the **previous** month. Send a copy from *Billing → Invoices → Email*."),
    ("Late payment fees", "billing", "en",
     "A fee of 5 % is added 14 days after the due date. Supervisors may waive it once a "
     "year for a customer in good standing; note the waiver in the wrap-up."),
    ("Cancelling a subscription", "billing subscriptions", "en",
     "Subscriptions end at the close of the billing period; there is no refund for the "
     "current month unless the service was unavailable. Offer the pause option first."),
    ("Pausing a subscription", "subscriptions", "en",
     "A subscription can be paused for up to 3 months once a year. Nothing is charged "
     "while paused; the data is kept."),
    ("Upgrading or downgrading a plan", "subscriptions plans", "en",
     "Upgrades apply at once and are charged pro rata. Downgrades apply from the next "
     "period. Compare plans at [our pricing page](https://example.com/pricing)."),
    ("Resetting a customer's password", "account login", "en",
     "Confirm the email on file, then send the reset link from the account page. The link "
     "expires after **one hour**. Never read a password out or ask for one."),
    ("Two-factor codes not arriving", "account login security", "en",
     "Check the phone number on the account. SMS codes can take a minute. After three "
     "failed codes the login is locked for 15 minutes; a password reset unlocks it."),
    ("Verifying a caller's identity", "security compliance", "en",
     "Ask for two of: date of birth, postcode, the last four digits of the card on file. "
     "Never confirm which answer was wrong. A caller who fails twice is offered a call "
     "back to the number on file."),
    ("Closing an account", "account", "en",
     "Closing deletes the data after 30 days. Settle open invoices first. Send the "
     "confirmation email from *Account → Close*; the customer must click its link."),
    ("Changing the account owner", "account", "en",
     "Both the current and the new owner must confirm by email. Company accounts need a "
     "letter on company paper sent to support@example.com."),
    ("Where is my delivery? Tracking a parcel", "shipping delivery", "en",
     "Give the tracking number from the order and the carrier's page. Deliveries to "
     "remote areas take up to 10 days. A parcel marked delivered but not received: open a "
     "claim after 48 hours."),
    ("Changing the delivery address of an order", "shipping orders", "en",
     "The address can be changed until the parcel is shipped. After shipping the courier "
     "can redirect it for a fee of 4 EUR."),
    ("Damaged or missing items", "shipping returns", "en",
     "Ask for a photo of the parcel and the item, sent to claims@example.com. Replace the "
     "item at once when it is in stock; otherwise refund it."),
    ("Returns within 30 days", "returns refunds", "en",
     "Unused items can be returned within 30 days. Create the return label from the "
     "order; the refund is made when the warehouse receives the item."),
    ("The router does not connect", "technical internet", "en",
     "1. Unplug the router for 30 seconds.\n2. Check the cable in the **WAN** port.\n3. "
     "Look at the status light: red means a line fault — book an engineer visit."),
    ("Slow internet speed", "technical internet", "en",
     "Run a speed test on a cable, not Wi-Fi. Below half the plan's speed for a day: "
     "open a line check. Wi-Fi only: move the router off the floor, away from metal."),
    ("Booking an engineer visit", "technical appointments", "en",
     "Visits are booked in 4-hour slots, Monday to Saturday. The customer must be home. "
     "A missed visit without notice costs 25 EUR."),
    ("Complaint handling", "complaints compliance", "en",
     "Listen, apologise for the experience, and log a case with category *complaint*. "
     "We answer in writing within **5 business days**; escalate threats of legal action "
     "to a supervisor at once."),
    ("Opening hours and holidays", "general", "en",
     "Phone lines: Monday to Friday 8:00–20:00, Saturday 9:00–17:00. Closed on public "
     "holidays; chat and email are answered the next business day."),
    ("Возврат денег на карту", "оплата возврат", "ru",
     "1. Откройте заказ.\n2. Нажмите **«Возврат»** и укажите сумму.\n\nДеньги вернутся на "
     "карту за **3–5 рабочих дней**. Пока открыт спор с банком, возврат не делайте."),
    ("Оплата картой не проходит", "оплата", "ru",
     "Проверьте срок действия карты и лимиты банка. После трёх неудачных попыток оплаты "
     "заказ отменяется автоматически. Номер карты по телефону не принимаем."),
    ("Как сбросить пароль клиента", "аккаунт вход", "ru",
     "Попросите назвать адрес почты, затем отправьте ссылку для сброса пароля со страницы "
     "учётной записи. Ссылка действует **один час**."),
    ("Сроки доставки заказа", "доставка", "ru",
     "Доставка по городу занимает 1–2 дня, в отдалённые районы — до 10 дней. Номер для "
     "отслеживания посылки есть в заказе."),
    ("Изменение адреса доставки", "доставка заказы", "ru",
     "Адрес можно изменить, пока посылка не передана курьеру. После отправки курьер может "
     "перенаправить посылку за 300 рублей."),
    ("Отмена подписки", "подписка", "ru",
     "Подписка отменяется в конце оплаченного периода. Деньги за текущий месяц не "
     "возвращаются, если сервис работал. Сначала предложите приостановить подписку."),
    ("Проверка личности звонящего", "безопасность", "ru",
     "Спросите два признака из трёх: дату рождения, индекс, последние четыре цифры карты. "
     "Не говорите, какой ответ неверен."),
    ("Жалоба клиента", "жалобы", "ru",
     "Выслушайте, извинитесь и заведите обращение с категорией *жалоба*. Письменный ответ "
     "— в течение **5 рабочих дней**."),
)  # fmt: skip

# a few uses and votes, so the counters and "most used" show something at first sight
USES = {"Refunding a card payment": 14, "Resetting a customer's password": 9,
        "Where is my delivery? Tracking a parcel": 6, "Возврат денег на карту": 4}  # fmt: skip
VOTES = {"Refunding a card payment": (("alice", True), ("bruno", True)),
         "Slow internet speed": (("alice", True), ("bruno", False))}  # fmt: skip


async def seed_knowledge(store: Store) -> int:
    """The demo articles, once. Returns how many were added (0: already there)."""
    if await store.fetchone("SELECT 1 FROM articles LIMIT 1"):
        return 0
    kb = store.knowledge
    for title, tags, language, body in ARTICLES:
        article = await kb.add(title=title, body=body, tags=tags, language=language, owner=OWNER)
        for _ in range(USES.get(title, 0)):
            await kb.record_use(article.id, username="alice")
        for username, helpful in VOTES.get(title, ()):
            await kb.vote(article.id, username=username, helpful=helpful)
    return len(ARTICLES)


async def seed_case_articles(
    store: Store, customers: Iterable[DemoCustomer], usernames: Mapping[str, str]
) -> int:
    """The article each demo case's agent used on the call the case was opened on
    (``DemoCustomer.case_article``), so the case page shows it; ``usernames`` maps an
    agent id to the user. Once: a contact that already has a use is left. Returns how
    many uses were added."""
    added = 0
    for demo in customers:
        if not demo.case_article:
            continue
        customer = await store.customers.find_by_phone(demo.phone)
        row = await store.fetchone("SELECT id FROM articles WHERE title = ?", (demo.case_article,))
        if customer is None or row is None:
            continue
        # the seeded case (the oldest of that subject), not one a user opened since
        seeded = [
            c
            for c in await store.cases.for_customer(customer.id)
            if c.subject == demo.case and c.contact_ids
        ]
        if not seeded:
            continue
        case = min(seeded, key=lambda c: c.id)
        contact_id = case.contact_ids[0]
        if await store.knowledge.uses_of_contact(contact_id):
            continue
        await store.knowledge.record_use(
            int(row[0]),
            username=usernames.get(case.agent_id or "", OWNER),
            contact_id=contact_id,
            at=case.created_at + 45,  # during the call, as the agent opened the case
        )
        added += 1
    return added
