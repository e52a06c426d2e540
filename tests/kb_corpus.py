"""A small knowledge base with known best answers, in English and Russian: the ranking
tests (tests/test_knowledge.py) and the browser test load it.

Each query is how an agent would type it during a contact — other inflections than the
article's, a word only in the body, words spread over title and body — and names the
article that must come first. Distractors share words with the answers (a body that
mentions "refund" once, a title with "card" in another sense) so a ranking that ignores
the title weight or the stemming puts the wrong one first. A lone word in two titles
("доставку": delivery times, changing the delivery address) has no one best answer —
FTS5's bm25 normalises by the whole row's length, so the shorter article leads there —
and is checked only to find both.
"""

from __future__ import annotations

ARTICLES: dict[str, dict[str, object]] = {
    "refund": {
        "title": "Refunding a card payment",
        "body": "Open the order, choose **Refund**, pick the amount. Refunds reach the "
        "customer's card in 3-5 business days. Partial refunds are allowed.",
        "tags": ["billing", "refunds"],
        "language": "en",
    },
    "chargeback": {
        "title": "Chargebacks and disputed charges",
        "body": "When the bank opens a dispute we lose the payment until it is settled. "
        "Never issue a refund while a chargeback is open.",
        "tags": ["billing"],
        "language": "en",
    },
    "password": {
        "title": "Resetting a customer's password",
        "body": "Ask the caller to confirm the email on file, then send the reset link from "
        "the account page. The link expires after one hour.",
        "tags": ["account", "login"],
        "language": "en",
    },
    "two_factor": {
        "title": "Two-factor codes not arriving",
        "body": "Check the phone number on the account. SMS codes can take a minute; after "
        "three failed codes the login is locked for 15 minutes and a password reset helps.",
        "tags": ["account", "login"],
        "language": "en",
    },
    "delivery": {
        "title": "Where is my delivery? Tracking a parcel",
        "body": "Give the tracking number from the order. Deliveries to remote areas take "
        "up to 10 days. A parcel marked delivered but not received: open a claim.",
        "tags": ["shipping"],
        "language": "en",
    },
    "address": {
        "title": "Changing the delivery address of an order",
        "body": "The address can be changed until the parcel is shipped. After shipping, "
        "the courier can redirect it for a fee.",
        "tags": ["shipping", "orders"],
        "language": "en",
    },
    "cancel": {
        "title": "Cancelling a subscription",
        "body": "Subscriptions are cancelled at the end of the billing period. No refund "
        "is given for the current month unless the service was unavailable.",
        "tags": ["billing", "subscriptions"],
        "language": "en",
    },
    "card_expired": {
        "title": "Updating an expired card",
        "body": "When a card expires the next charge fails and we retry three times. The "
        "customer updates the card under Payment methods.",
        "tags": ["billing"],
        "language": "en",
    },
    "ru_refund": {
        "title": "Возврат денег на карту",
        "body": "Откройте заказ и нажмите «Возврат». Деньги вернутся на карту покупателя "
        "за 3–5 рабочих дней. Частичный возврат возможен.",
        "tags": ["оплата", "возврат"],
        "language": "ru",
    },
    "ru_password": {
        "title": "Как сбросить пароль клиента",
        "body": "Попросите назвать адрес почты, затем отправьте ссылку для сброса пароля со "
        "страницы учётной записи. Ссылка действует один час.",
        "tags": ["аккаунт"],
        "language": "ru",
    },
    "ru_delivery": {
        "title": "Сроки доставки заказа",
        "body": "Доставка по городу занимает 1–2 дня, в отдалённые районы до 10 дней. "
        "Номер для отслеживания посылки есть в заказе.",
        "tags": ["доставка"],
        "language": "ru",
    },
    "ru_payment_failed": {
        "title": "Оплата картой не проходит",
        "body": "Проверьте срок действия карты и лимиты банка. После трёх неудачных "
        "попыток оплаты заказ отменяется автоматически.",
        "tags": ["оплата"],
        "language": "ru",
    },
    "ru_cancel": {
        "title": "Отмена подписки",
        "body": "Подписка отменяется в конце оплаченного периода. Деньги за текущий месяц "
        "не возвращаются.",
        "tags": ["подписка"],
        "language": "ru",
    },
    "ru_address": {
        "title": "Изменение адреса доставки",
        "body": "Адрес можно изменить, пока посылка не передана курьеру.",
        "tags": ["доставка", "заказы"],
        "language": "ru",
    },
}

# (query, language filter or None, the article that must rank first, or None: found)
QUERIES: list[tuple[str, str | None, str | None]] = [
    ("refund", "en", "refund"),
    ("refunds to card", None, "refund"),
    ("how do I refund a customer", "en", "refund"),
    ("chargeback", None, "chargeback"),
    ("disputed charge", "en", "chargeback"),
    ("reset password", "en", "password"),
    ("passwords", None, "password"),
    ("two factor code", None, "two_factor"),
    ("sms codes", "en", "two_factor"),
    ("tracking parcel", "en", "delivery"),
    ("change address", "en", "address"),
    ("changed delivery addresses", "en", "address"),
    ("cancel subscription", None, "cancel"),
    ("expired card", "en", "card_expired"),
    ("возврат", "ru", "ru_refund"),
    ("вернуть деньги на карту", "ru", "ru_refund"),
    ("сброс пароля", None, "ru_password"),
    ("пароль", "ru", "ru_password"),
    ("отслеживание доставки", "ru", "ru_delivery"),
    ("доставку", "ru", None),  # two titles say it: either may lead
    ("сроки доставки", None, "ru_delivery"),
    ("оплата не проходит", "ru", "ru_payment_failed"),
    ("оплату картой", "ru", "ru_payment_failed"),
    ("отменить подписку", "ru", "ru_cancel"),
    ("изменить адрес", "ru", "ru_address"),
]
