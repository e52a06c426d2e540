"""Every string the console shows, in English and Russian: the one catalogue.

Theory of operation: a page is rendered in the user's language (their stored preference,
else the browser's ``Accept-Language``, else English). Templates call ``t("key")``; the
page also embeds the whole catalogue of its language as JSON, which ``SB.t("key",
{name: ...})`` in common.js reads, so scripts never hold a visible string of their own.
``{name}`` placeholders are filled from the arguments. tests/test_console_catalogue.py
checks that every key has both languages with the same placeholders, and that every key
a template or script uses is here.

Keys are grouped by page; add a page's strings in its own section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}

# key -> (English, Russian)
STRINGS: dict[str, tuple[str, str]] = {
    # == common ===========================================================================
    "app.name": ("Switchboard", "Switchboard"),
    "nav.skip": ("Skip to content", "Перейти к содержимому"),
    "nav.console": ("My console", "Мой пульт"),
    "nav.wallboard": ("Wallboard", "Табло"),
    "nav.admin": ("Users", "Пользователи"),
    "nav.signout": ("Sign out", "Выйти"),
    "nav.language": ("Language", "Язык"),
    "nav.main": ("Main", "Главное меню"),
    "conn.live": ("Live", "На связи"),
    "conn.reconnecting": ("Reconnecting…", "Переподключение…"),
    "conn.offline": ("Offline", "Нет связи"),
    "conn.title": ("Live connection", "Соединение"),
    "conn.lost": (
        "Connection lost. Live updates are paused; reconnecting…",
        "Связь потеряна. Обновления приостановлены; переподключаемся…",
    ),
    "conn.retry": ("Retry now", "Повторить"),
    "session.ended": ("Your session ended. Sign in again.", "Сеанс завершён. Войдите снова."),
    "error.generic": ("Something went wrong: {message}", "Что-то пошло не так: {message}"),
    "error.network": (
        "The server did not answer. Check the connection and try again.",
        "Сервер не ответил. Проверьте соединение и повторите.",
    ),
    "common.close": ("Close", "Закрыть"),
    "common.save": ("Save", "Сохранить"),
    "common.cancel": ("Cancel", "Отмена"),
    "common.none": ("—", "—"),
    "common.loading": ("Loading…", "Загрузка…"),
    "common.saved": ("Saved", "Сохранено"),
    "common.yes": ("Yes", "Да"),
    "common.no": ("No", "Нет"),
    "role.agent": ("Agent", "Оператор"),
    "role.supervisor": ("Supervisor", "Супервизор"),
    "role.admin": ("Administrator", "Администратор"),
    "state.logged_out": ("Logged out", "Не в системе"),
    "state.ready": ("Ready", "Готов"),
    "state.not_ready": ("Not ready", "Не готов"),
    "state.ringing": ("Ringing", "Звонок"),
    "state.on_call": ("On a call", "Разговор"),
    "state.wrap_up": ("Wrap-up", "Обработка"),
    "state.wrap_up_overdue": ("Wrap-up overdue", "Обработка просрочена"),
    "call.ivr": ("In the menu", "В меню"),
    "call.waiting": ("Waiting", "Ожидает"),
    "call.ringing": ("Ringing", "Звонок"),
    "call.talking": ("Talking", "Разговор"),
    "call.held": ("On hold", "На удержании"),
    "call.ended": ("Ended", "Завершён"),
    "reason.break": ("Break", "Перерыв"),
    "reason.lunch": ("Lunch", "Обед"),
    "reason.training": ("Training", "Обучение"),
    "reason.meeting": ("Meeting", "Совещание"),
    "reason.no answer": ("Missed a call", "Пропустил звонок"),
    "reason.admin": ("Admin work", "Служебные дела"),
    "case.open": ("Open", "Открыто"),
    "case.pending": ("Pending", "В ожидании"),
    "case.closed": ("Closed", "Закрыто"),
    "disposition.resolved": ("Resolved", "Решено"),
    "disposition.follow-up": ("Follow-up needed", "Нужен повторный контакт"),
    "disposition.escalated": ("Escalated", "Передано выше"),
    "disposition.sale": ("Sale", "Продажа"),
    "disposition.no sale": ("No sale", "Без продажи"),
    "disposition.wrong number": ("Wrong number", "Ошибся номером"),
    "disposition.callback": ("Call back", "Перезвонить"),
    "disposition.other": ("Other", "Другое"),
    # IVR steps in plain words (SB.describeStep); {name} is the menu step, spelt out.
    "ivr.play": ("Heard “{name}”", "Прослушал «{name}»"),
    "ivr.play.interrupted": ("Skipped “{name}”", "Пропустил «{name}»"),
    "ivr.menu.option": ("Pressed {digits} at “{name}”", "Нажал {digits} в меню «{name}»"),
    "ivr.menu.failed": ("No valid choice at “{name}”", "Не выбрал пункт в меню «{name}»"),
    "ivr.collect": ("Entered digits at “{name}”", "Ввёл цифры в «{name}»"),
    "ivr.lookup.found": ("Account found", "Учётная запись найдена"),
    "ivr.lookup.not_found": ("Account not found", "Учётная запись не найдена"),
    "ivr.hours.open": ("Called in opening hours", "Звонок в рабочее время"),
    "ivr.hours.closed": ("Called out of hours", "Звонок в нерабочее время"),
    "ivr.hours.holiday": ("Called on a holiday", "Звонок в праздник"),
    "ivr.queue": ("Sent to the queue", "Поставлен в очередь"),
    "ivr.callback": ("Asked for a callback", "Заказал обратный звонок"),
    "ivr.callback.declined": ("Declined a callback", "Отказался от обратного звонка"),
    "ivr.voicemail": ("Left a voicemail", "Оставил голосовое сообщение"),
    "ivr.voicemail.none": (
        "Reached voicemail, left nothing",
        "Попал в голосовую почту, ничего не оставил",
    ),
    "ivr.transfer": ("Transferred by the menu", "Переведён меню"),
    "ivr.hangup": ("Call ended by the menu", "Меню завершило звонок"),
    "ivr.other": ("“{name}”: {result}", "«{name}»: {result}"),
    # == report measures (crm_lookup.report_measures; the report pages show them) ========
    "report.measure.offered": ("Offered", "Поступило"),
    "report.definition.offered": (
        "Calls that entered the queue in the period and have ended.",
        "Звонки, поступившие в очередь за период и завершённые.",
    ),
    "report.measure.answered": ("Answered", "Отвечено"),
    "report.definition.answered": (
        "Offered calls an agent picked up.",
        "Поступившие звонки, на которые ответил оператор.",
    ),
    "report.measure.abandoned": ("Abandoned", "Брошено"),
    "report.definition.abandoned": (
        "Callers who hung up in the queue after waiting at least the short-abandon time.",
        "Звонящие, положившие трубку в очереди после ожидания не меньше порога короткого сброса.",
    ),
    "report.measure.short_abandoned": ("Short abandons", "Короткие сбросы"),
    "report.definition.short_abandoned": (
        "Callers who hung up in the queue sooner than the short-abandon time;"
        " counted apart and left out of the service level.",
        "Звонящие, положившие трубку в очереди быстрее порога короткого сброса;"
        " считаются отдельно и не входят в уровень обслуживания.",
    ),
    "report.measure.service_level": ("Service level", "Уровень обслуживания"),
    "report.definition.service_level": (
        "Calls answered within the threshold divided by offered calls less short abandons.",
        "Звонки, отвеченные в пределах порога, делённые на поступившие без коротких сбросов.",
    ),
    "report.measure.asa": ("ASA", "Среднее время ответа"),
    "report.definition.asa": (
        "Average speed of answer: the mean wait in the queue of answered calls.",
        "Среднее время ответа: среднее ожидание в очереди отвеченных звонков.",
    ),
    "report.measure.aht": ("AHT", "Среднее время обработки"),
    "report.definition.aht": (
        "Average handle time: the mean talk + hold + wrap-up time of answered calls.",
        "Среднее время обработки: разговор + удержание + поствызывная обработка"
        " отвеченных звонков, в среднем.",
    ),
    "report.measure.avg_wait": ("Average wait", "Среднее ожидание"),
    "report.definition.avg_wait": (
        "The mean time offered calls waited in the queue, answered or not.",
        "Среднее время ожидания в очереди поступивших звонков, отвеченных и нет.",
    ),
    "report.measure.longest_wait": ("Longest wait", "Самое долгое ожидание"),
    "report.definition.longest_wait": (
        "The longest time an offered call waited in the queue.",
        "Самое долгое ожидание поступившего звонка в очереди.",
    ),
    "report.measure.transfers": ("Transfers", "Переводы"),
    "report.definition.transfers": (
        "Transfers agents made on these calls.",
        "Переводы, сделанные операторами на этих звонках.",
    ),
    "report.measure.callbacks": ("Callbacks", "Обратные звонки"),
    "report.definition.callbacks": (
        "Callers who left the queue asking to be called back.",
        "Звонящие, покинувшие очередь с заказом обратного звонка.",
    ),
    "report.measure.other": ("Other", "Прочие"),
    "report.definition.other": (
        "Offered calls that ended another way: voicemail, overflow, failed, lost in an outage.",
        "Поступившие звонки, завершённые иначе: голосовая почта, переполнение, сбой,"
        " потеря при остановке службы.",
    ),
    "report.measure.calls": ("Calls", "Звонки"),
    "report.definition.calls": (
        "Calls the agent answered.",
        "Звонки, на которые ответил оператор.",
    ),
    "report.measure.talk_seconds": ("Talk time", "Время разговора"),
    "report.definition.talk_seconds": (
        "Time the agent talked on those calls, holds not included.",
        "Время разговора оператора на этих звонках, без удержания.",
    ),
    "report.measure.hold_seconds": ("Hold time", "Время удержания"),
    "report.definition.hold_seconds": (
        "Time callers spent on hold on those calls.",
        "Время, которое звонящие провели на удержании.",
    ),
    "report.measure.wrapup_seconds": ("Wrap-up time", "Поствызывная обработка"),
    "report.definition.wrapup_seconds": (
        "Time from the end of those calls to their saved wrap-up.",
        "Время от конца этих звонков до сохранения их итогов.",
    ),
    "report.measure.logged_in_seconds": ("Logged in", "В системе"),
    "report.definition.logged_in_seconds": (
        "Time the agent was logged in during the period, in any state.",
        "Время, которое оператор провёл в системе за период, в любом статусе.",
    ),
    "report.measure.occupancy": ("Occupancy", "Занятость"),
    "report.definition.occupancy": (
        "Time on calls and in wrap-up divided by logged-in time less not-ready time.",
        "Время на звонках и в поствызывной обработке, делённое на время в системе"
        " без времени «не готов».",
    ),
    "report.measure.state_seconds": ("Time in each state", "Время в каждом статусе"),
    "report.definition.state_seconds": (
        "Time the agent spent ready, not ready (by reason), ringing, on calls and in wrap-up.",
        "Время оператора в статусах: готов, не готов (по причинам), вызов, разговор,"
        " поствызывная обработка.",
    ),
    "report.measure.in_progress": ("In progress", "В процессе"),
    "report.definition.in_progress": (
        "Calls not ended yet (waiting or talking): left out of every other measure.",
        "Ещё не завершённые звонки (ждут или идёт разговор): не входят в другие показатели.",
    ),
    # == login ============================================================================
    "login.title": ("Sign in", "Вход"),
    "login.username": ("Username", "Имя пользователя"),
    "login.password": ("Password", "Пароль"),
    "login.submit": ("Sign in", "Войти"),
    "login.expired": ("The form expired; please try again.", "Форма устарела; попробуйте ещё раз."),
    "login.wrong": ("Wrong username or password.", "Неверное имя пользователя или пароль."),
    "login.disabled": (
        "This user is disabled; ask an administrator.",
        "Пользователь отключён; обратитесь к администратору.",
    ),
    "login.too_many": (
        "Too many attempts; try again in {seconds} s.",
        "Слишком много попыток; повторите через {seconds} с.",
    ),
    # == agent console ====================================================================
    "agent.title": ("Agent", "Оператор"),
    "agent.who": ("{name} · agent {id}", "{name} · оператор {id}"),
    "agent.bar": ("My availability", "Моя доступность"),
    "agent.availability": ("Availability", "Доступность"),
    "agent.avail.not_ready": ("Not ready: {reason}", "Не готов: {reason}"),
    "agent.avail.logout": ("Log out of queues", "Выйти из очередей"),
    "agent.avail.set": ("Set", "Применить"),
    "agent.time_in_state": ("In state", "В состоянии"),
    "agent.logged_in": ("Logged in", "В системе"),
    "agent.notify": ("Desktop alerts", "Уведомления на рабочем столе"),
    "agent.notify.denied": (
        "The browser blocks notifications for this page.",
        "Браузер запрещает уведомления для этой страницы.",
    ),
    "agent.ringing.title": ("Ringing: {name}", "Звонок: {name}"),
    "agent.call.title": ("Call: {name}", "Разговор: {name}"),
    "agent.notify.body": ("{queue} · {number}", "{queue} · {number}"),
    "agent.call.heading": ("Current call", "Текущий звонок"),
    "agent.call.none": (
        "No call. Set yourself Ready to take calls.",
        "Звонка нет. Выберите «Готов», чтобы принимать звонки.",
    ),
    "agent.caller.unknown": ("Unknown caller", "Неизвестный абонент"),
    "agent.caller.new": ("New caller", "Новый абонент"),
    "agent.vip": ("VIP", "VIP"),
    "agent.number": ("Number", "Номер"),
    "agent.queue": ("Queue", "Очередь"),
    "agent.waited": ("Waited", "Ждал"),
    "agent.talk": ("Talk", "Разговор"),
    "agent.hold_time": ("Hold", "Удержание"),
    "agent.verified": ("Account verified", "Учётная запись подтверждена"),
    "agent.not_verified": ("Account not verified", "Учётная запись не подтверждена"),
    "agent.hold": ("Hold", "Удержать"),
    "agent.unhold": ("Unhold", "Снять с удержания"),
    "agent.hangup": ("Hang up", "Завершить"),
    "agent.recording.pause": ("Pause recording", "Пауза записи"),
    "agent.recording.on": ("Recording", "Идёт запись"),
    "agent.recording.paused": ("Recording paused", "Запись на паузе"),
    "agent.transfer": ("Transfer", "Перевести"),
    "agent.transfer.kind": ("Transfer to", "Куда перевести"),
    "agent.transfer.queue": ("To a queue", "В очередь"),
    "agent.transfer.agent": ("To an agent", "Оператору"),
    "agent.transfer.number": ("To a number", "На номер"),
    "agent.transfer.target": ("Transfer target", "Цель перевода"),
    "agent.transfer.no_agent": ("No agent is ready", "Нет готовых операторов"),
    "agent.callback": ("Call back", "Перезвонить"),
    "agent.dial.label": ("Number to dial", "Номер для звонка"),
    "agent.dial": ("Dial", "Позвонить"),
    "agent.customer.heading": ("Caller", "Абонент"),
    "agent.customer.none": (
        "The caller's details appear here when a call arrives.",
        "Сведения об абоненте появятся здесь, когда придёт звонок.",
    ),
    "agent.ivr": ("Before the call", "До разговора"),
    "agent.cases": ("Open cases", "Открытые обращения"),
    "agent.cases.none": ("No open cases.", "Открытых обращений нет."),
    "agent.case.line": ("#{id} {subject} — {status}", "№{id} {subject} — {status}"),
    "agent.history": ("Last contacts", "Последние обращения"),
    "agent.history.when": ("When", "Когда"),
    "agent.history.queue": ("Queue", "Очередь"),
    "agent.history.agent": ("Agent", "Оператор"),
    "agent.history.disposition": ("Disposition", "Результат"),
    "agent.history.notes": ("Notes", "Заметки"),
    "agent.history.none": ("No contacts yet.", "Обращений пока нет."),
    "agent.newcust.heading": ("Save as customer", "Сохранить как клиента"),
    "agent.newcust.name": ("Customer's name", "Имя клиента"),
    "agent.newcust.company": ("Company (optional)", "Компания (необязательно)"),
    "agent.newcust.save": ("Save as customer", "Сохранить клиента"),
    "agent.newcust.saved": ("{name} is saved as a customer.", "{name} сохранён как клиент."),
    "agent.wrap.heading": ("Wrap-up", "Обработка"),
    "agent.wrap.for": ("Wrap-up: {name}", "Обработка: {name}"),
    "agent.wrap.left": ("{time} left", "осталось {time}"),
    "agent.wrap.overdue": ("Overdue", "Просрочено"),
    "agent.wrap.queued": ("{count} more to wrap up", "Ещё к обработке: {count}"),
    "agent.wrap.disposition": ("Disposition", "Результат"),
    "agent.wrap.choose": ("Choose…", "Выберите…"),
    "agent.wrap.notes": ("Notes", "Заметки"),
    "agent.wrap.case": ("Case", "Обращение"),
    "agent.wrap.case.none": ("No case", "Без обращения"),
    "agent.wrap.case.new": ("Create a case", "Создать обращение"),
    "agent.wrap.case.update": ("Update #{id} {subject}", "Обновить №{id} {subject}"),
    "agent.wrap.case.subject": ("Case subject", "Тема обращения"),
    "agent.wrap.case.status": ("Case status", "Статус обращения"),
    "agent.wrap.case.unknown": (
        "To open a case, first save the caller as a customer.",
        "Чтобы открыть обращение, сначала сохраните абонента как клиента.",
    ),
    "agent.wrap.save": ("Save wrap-up", "Сохранить обработку"),
    "agent.wrap.saved": ("Wrap-up saved for {name}.", "Обработка сохранена: {name}."),
    "agent.wrap.draft.saved": ("Draft saved", "Черновик сохранён"),
    "agent.wrap.draft.local": ("Draft kept in this browser", "Черновик сохранён в браузере"),
    "agent.wrap.draft.restored": ("Draft restored", "Черновик восстановлен"),
    "agent.wrap.need_disposition": ("Choose a disposition.", "Выберите результат."),
    "agent.wrap.need_subject": ("Type the case subject.", "Введите тему обращения."),
    "agent.search.heading": ("Customers", "Клиенты"),
    "agent.search.label": ("Find a customer", "Найти клиента"),
    "agent.search.hint": (
        "Name, phone, account or company. Opens in a new tab.",
        "Имя, телефон, счёт или компания. Откроется в новой вкладке.",
    ),
    "agent.search.submit": ("Search", "Найти"),
    "agent.search.none": ("No match.", "Ничего не найдено."),
    "agent.keys.open": ("Shortcuts (?)", "Клавиши (?)"),
    "agent.keys.heading": ("Keyboard shortcuts", "Сочетания клавиш"),
    "agent.keys.ready": ("Go ready", "Готов"),
    "agent.keys.not_ready": (
        "Not ready (the reason chosen in Availability)",
        "Не готов (причина из списка «Доступность»)",
    ),
    "agent.keys.hold": ("Hold or unhold", "Удержать или снять с удержания"),
    "agent.keys.recording": (
        "Pause or resume the call's recording",
        "Приостановить или возобновить запись звонка",
    ),
    "agent.keys.hangup": ("Hang up (end)", "Завершить звонок"),
    "agent.keys.transfer": ("Transfer: go to the target", "Перевод: к выбору цели"),
    "agent.keys.notes": ("Write wrap-up notes", "Заметки обработки"),
    "agent.keys.save": ("Save the wrap-up (in the form)", "Сохранить обработку (в форме)"),
    "agent.keys.search": ("Search customers", "Поиск клиентов"),
    "agent.keys.help": ("This list", "Этот список"),
    "agent.keys.close": ("Close this list", "Закрыть список"),
    # == wallboard ========================================================================
    "wall.who": ("{name} · {role}", "{name} · {role}"),
    "wall.view.tv": ("TV view", "Вид для экрана"),
    "wall.view.normal": ("Normal view", "Обычный вид"),
    "wall.filter": ("Queues shown", "Показанные очереди"),
    "wall.queues": ("Queues", "Очереди"),
    "wall.summary": ("Agents at a glance", "Операторы кратко"),
    "wall.totals": ("All queues", "Все очереди"),
    "wall.tile.waiting": ("waiting", "ждут"),
    "wall.tile.longest": ("Longest wait", "Дольше всех ждёт"),
    "wall.tile.sl": ("Service level", "Уровень сервиса"),
    "wall.tile.answered": ("Answered", "Отвечено"),
    "wall.tile.abandoned": ("Abandoned", "Брошено"),
    "wall.tile.ewt": ("Est. wait", "Ожид. ожидание"),
    "wall.tile.ready": ("Agents ready", "Готовы"),
    "wall.level.ok": ("On target", "В норме"),
    "wall.level.warn": ("Warning: {metric}", "Внимание: {metric}"),
    "wall.level.bad": ("Critical: {metric}", "Критично: {metric}"),
    "wall.metric.service_level": ("service level", "уровень сервиса"),
    "wall.metric.longest_wait": ("longest wait", "время ожидания"),
    "wall.metric.waiting": ("calls waiting", "звонки в очереди"),
    "wall.agents": ("Agents", "Операторы"),
    "wall.no_agents": ("No agents in the queues shown.", "В показанных очередях нет операторов."),
    "wall.col.agent": ("Agent", "Оператор"),
    "wall.col.state": ("State", "Состояние"),
    "wall.col.time": ("Time in state", "В состоянии"),
    "wall.col.call": ("Call", "Звонок"),
    "wall.col.caller": ("Caller", "Звонящий"),
    "wall.col.queue": ("Queue", "Очередь"),
    "wall.col.waiting": ("Waiting", "Ждёт"),
    "wall.col.status": ("Status", "Статус"),
    "wall.col.move": ("Move to", "Перевести в"),
    "wall.actions": ("Actions", "Действия"),
    "wall.actions_for": ("Actions for {name}", "Действия: {name}"),
    "wall.reason_for": ("Not-ready reason for {name}", "Причина «не готов» для {name}"),
    "wall.act.ready": ("Force ready", "Сделать готовым"),
    "wall.act.not_ready": ("Set not ready", "Сделать «не готов»"),
    "wall.act.logout": ("Log out", "Вывести из системы"),
    "wall.act.listen": ("Listen", "Слушать"),
    "wall.act.whisper": ("Whisper", "Подсказывать"),
    "wall.act.barge": ("Barge in", "Вмешаться"),
    "wall.waiting_calls": ("Waiting calls", "Звонки в очереди"),
    "wall.no_waiting": ("No calls waiting", "Нет ожидающих звонков"),
    "wall.unknown_caller": ("Unknown caller", "Номер скрыт"),
    "wall.more_waiting": ("and {count} more waiting", "и ещё {count} в очереди"),
    "wall.wrap_left": ("Wrap-up: {time} left", "Обработка: осталось {time}"),
    "wall.ringing_agent": ("Ringing {name}", "Звонит: {name}"),
    "wall.move": ("Move", "Перевести"),
    "wall.move_label": ("Queue to move the call to", "Очередь для перевода звонка"),
    "wall.move_label_for": ("Queue to move {caller} to", "Очередь для перевода {caller}"),
    "wall.chart.calls": ("Calls per interval", "Звонки по интервалам"),
    "wall.chart.sl_title": ("Service level through the day", "Уровень сервиса за день"),
    "wall.chart.table": ("Show as a table", "Показать таблицей"),
    "wall.chart.interval": ("Interval", "Интервал"),
    "wall.chart.answered": ("Answered", "Отвечено"),
    "wall.chart.abandoned": ("Abandoned", "Брошено"),
    "wall.chart.sl": ("Service level", "Уровень сервиса"),
    "wall.chart.target": ("Target {value}", "Цель {value}"),
    "wall.chart.time": ("time", "время"),
    "wall.chart.calls_unit": ("calls", "звонки"),
    "wall.chart.none": ("No intervals yet today", "Сегодня интервалов ещё нет"),
    "wall.chart.bar": (
        "{time}: {answered} answered, {abandoned} abandoned",
        "{time}: отвечено {answered}, брошено {abandoned}",
    ),
    "wall.chart.calls_summary": (
        "Last {count} intervals: {answered} answered, {abandoned} abandoned",
        "Последние {count} интервалов: отвечено {answered}, брошено {abandoned}",
    ),
    "wall.chart.sl_summary": (
        "Service level now {last}; target {target}",
        "Уровень сервиса сейчас {last}; цель {target}",
    ),
    # wallboard staffing (agent_console.staffing; docs/STAFFING.md)
    "wall.staff.needs": ("Needs +{count} agents", "Не хватает операторов: +{count}"),
    "wall.staff.needs_one": ("Needs +1 agent", "Не хватает одного оператора"),
    "wall.staff.ok": ("Staffed", "Операторов достаточно"),
    "wall.staff.detail": (
        "Forecast for {time}: {calls} calls, handle time {aht}; {needed} agents needed,"
        " {logged} logged in",
        "Прогноз на {time}: звонков {calls}, время обработки {aht}; нужно операторов:"
        " {needed}, в системе: {logged}",
    ),
    # == customer page ====================================================================
    "customer.title": ("Customer", "Клиент"),
    "customer.company": ("Company", "Компания"),
    "customer.phones": ("Phones", "Телефоны"),
    "customer.email": ("E-mail", "Эл. почта"),
    "customer.account": ("Account", "Счёт"),
    "customer.notes": ("Notes", "Заметки"),
    "customer.name": ("Name", "Имя"),
    "customer.tier": ("Tier", "Уровень"),
    "customer.add_phone": ("Add a phone", "Добавить телефон"),
    "customer.edit": ("Edit customer", "Изменить клиента"),
    "customer.edit_title": ("Edit the customer", "Изменение клиента"),
    "customer.saved": ("Customer saved.", "Клиент сохранён."),
    "customer.cases": ("Open cases", "Открытые обращения"),
    "customer.no_cases": ("No open cases.", "Открытых обращений нет."),
    "customer.duplicates": ("Possible duplicates", "Возможные дубликаты"),
    "customer.duplicates_hint": (
        "A number this customer called from, the same e-mail, the same name, or the same"
        " surname and initial.",
        "Номер, с которого звонил этот клиент, та же почта, то же имя или та же фамилия и инициал.",
    ),
    "customer.no_duplicates": ("No likely duplicates.", "Похожих клиентов нет."),
    "customer.reason.same_name": ("same name", "то же имя"),
    "customer.reason.same_email": ("same e-mail", "та же почта"),
    "customer.reason.same_phone": ("called from their number", "звонил с их номера"),
    "customer.reason.similar_name": ("same surname and initial", "та же фамилия и инициал"),
    "customer.compare": ("Compare and merge", "Сравнить и объединить"),
    "customer.merge_title": ("Merge {name} into {into}?", "Объединить {name} с {into}?"),
    "customer.merge_explain": (
        "The duplicate's phones, accounts, contacts and cases move here; this customer's"
        " fields are kept and blank ones filled from the duplicate. It cannot be undone.",
        "Телефоны, счета, контакты и обращения дубликата перейдут сюда; поля этого клиента"
        " сохранятся, пустые заполнятся из дубликата. Отменить нельзя.",
    ),
    "customer.keep": ("Kept", "Остаётся"),
    "customer.duplicate": ("Duplicate (goes)", "Дубликат (удаляется)"),
    "customer.merge_confirm": ("Merge", "Объединить"),
    "customer.merged": ("{name} merged into this customer.", "{name} объединён с этим клиентом."),
    "customer.gone": (
        "No such customer (it may have been merged into another).",
        "Такого клиента нет (возможно, он объединён с другим).",
    ),
    "customer.timeline": ("Contacts", "Контакты"),
    "customer.no_contacts": ("No contacts yet.", "Контактов пока нет."),
    "customer.older": ("Older contacts", "Более ранние"),
    "customer.direction": ("Direction", "Направление"),
    "customer.inbound": ("Inbound call", "Входящий"),
    "customer.outbound": ("Outbound call", "Исходящий"),
    "customer.queue": ("Queue", "Очередь"),
    "customer.waited": ("Waited", "Ожидание"),
    "customer.agent": ("Agent", "Оператор"),
    "customer.talk": ("Talk time", "Разговор"),
    "customer.outcome": ("Outcome", "Итог"),
    "customer.disposition": ("Disposition", "Результат"),
    "customer.ivr": ("In the menu", "В меню"),
    "customer.find": ("Find a customer", "Найти клиента"),
    "customer.find_label": ("Name, phone, account or company", "Имя, телефон, счёт или компания"),
    "customer.find_submit": ("Search", "Найти"),
    "customer.no_match": ("No match.", "Ничего не найдено."),
    "tier.standard": ("Standard", "Обычный"),
    "tier.preferred": ("Preferred", "Привилегированный"),
    "tier.gold": ("Gold", "Золотой"),
    "tier.VIP": ("VIP", "VIP"),
    "outcome.answered": ("Answered", "Отвечен"),
    "outcome.abandoned_ivr": ("Hung up in the menu", "Положил трубку в меню"),
    "outcome.abandoned_queue": ("Hung up while waiting", "Положил трубку в очереди"),
    "outcome.callback": ("Callback", "Обратный звонок"),
    "outcome.voicemail": ("Voicemail", "Голосовая почта"),
    "outcome.overflow": ("Overflowed", "Переполнение"),
    "outcome.failed": ("Failed", "Сбой"),
    "outcome.lost_during_outage": ("Lost in an outage", "Потерян при сбое"),
    # == admin ============================================================================
    "admin.title": ("Console users", "Пользователи пульта"),
    "admin.table": (
        "Console users, their roles, agents and last sign-in",
        "Пользователи пульта, их роли, операторы и последний вход",
    ),
    "admin.user": ("User", "Пользователь"),
    "admin.role": ("Role", "Роль"),
    "admin.agent": ("Agent", "Оператор"),
    "admin.agent_id": ("Agent id", "Номер оператора"),
    "admin.last_login": ("Last sign-in", "Последний вход"),
    "admin.never": ("Never", "Ни разу"),
    "admin.state": ("State now", "Состояние"),
    "admin.status": ("Status", "Статус"),
    "admin.actions": ("Actions", "Действия"),
    "admin.active": ("Active", "Активен"),
    "admin.disabled": ("Disabled", "Отключён"),
    "admin.no_users": ("No users yet.", "Пользователей пока нет."),
    "admin.add": ("Add a user", "Добавить пользователя"),
    "admin.username": ("Username", "Имя пользователя"),
    "admin.password": ("Password", "Пароль"),
    "admin.add_submit": ("Add user", "Добавить"),
    "admin.edit": ("Edit", "Изменить"),
    "admin.edit_title": ("Edit {user}", "Изменить {user}"),
    "admin.enable": ("Enable", "Включить"),
    "admin.disable": ("Disable", "Отключить"),
    "admin.reset_password": ("Reset password", "Сменить пароль"),
    "admin.password_title": ("New password for {user}", "Новый пароль для {user}"),
    "admin.new_password": ("New password", "Новый пароль"),
    "admin.password_rule": (
        "At least 8 characters, not the username. The user's sessions end at once.",
        "Не короче 8 символов и не совпадает с именем. Сеансы пользователя сразу завершатся.",
    ),
    "admin.set_password": ("Set password", "Установить пароль"),
    "admin.delete": ("Delete", "Удалить"),
    "admin.delete_title": ("Delete {user}?", "Удалить {user}?"),
    "admin.delete_warning": (
        "Their sessions end now. The audit log keeps the name.",
        "Сеансы пользователя сразу завершатся. Журнал аудита сохранит имя.",
    ),
    "admin.done_add": ("{user} added.", "{user} добавлен."),
    "admin.done_edit": (
        "{user} changed; their sessions ended.",
        "{user} изменён; его сеансы завершены.",
    ),
    "admin.done_enable": ("{user} enabled.", "{user} включён."),
    "admin.done_disable": (
        "{user} disabled; their sessions ended.",
        "{user} отключён; его сеансы завершены.",
    ),
    "admin.done_password": ("New password set for {user}.", "Для {user} установлен новый пароль."),
    "admin.done_delete": ("{user} deleted.", "{user} удалён."),
    # == quality review (the contact page's evaluation, the evaluations page) ==============
    "nav.evaluations": ("Evaluations", "Оценки"),
    "evaluation.title": ("Quality review", "Оценка качества"),
    "evaluation.list": ("Evaluations of this contact", "Оценки этого обращения"),
    "evaluation.none": ("Not evaluated yet.", "Ещё не оценено."),
    "evaluation.new": ("Evaluate this contact", "Оценить обращение"),
    "evaluation.editing": ("Change your evaluation", "Изменить свою оценку"),
    "evaluation.edit": ("Change", "Изменить"),
    "evaluation.cancel_edit": ("Cancel the change", "Отменить изменение"),
    "evaluation.form": ("Form", "Анкета"),
    "evaluation.comments": ("Comments", "Комментарий"),
    "evaluation.score": ("Score", "Балл"),
    "evaluation.evaluator": ("Evaluator", "Оценщик"),
    "evaluation.by": ("by {name}", "оценил(а) {name}"),
    "evaluation.answers": ("Answers", "Ответы"),
    "evaluation.weight": ("weight {weight}", "вес {weight}"),
    "evaluation.yes": ("Yes", "Да"),
    "evaluation.no": ("No", "Нет"),
    "evaluation.na": ("Does not apply", "Неприменимо"),
    "evaluation.unanswered": ("not answered", "без ответа"),
    "evaluation.required": ("Answer this question.", "Ответьте на этот вопрос."),
    "evaluation.check": ("Some questions need an answer.", "Ответьте на все обязательные вопросы."),
    "evaluation.saved": ("Evaluation saved: {score}", "Оценка сохранена: {score}"),
    "evaluation.no_forms": ("No evaluation form is configured.", "Анкеты оценки не настроены."),
    "evaluation.no_score": ("no score", "без балла"),
    "evaluation.scale": ("{value} of 5", "{value} из 5"),
    "evaluations.title": ("Evaluations", "Оценки"),
    "evaluations.hint_agent": (
        "Quality reviews of your contacts.",
        "Оценки качества ваших обращений.",
    ),
    "evaluations.hint_supervisor": (
        "Quality reviews of the contacts in your queues.",
        "Оценки качества обращений ваших очередей.",
    ),
    "evaluations.from": ("From", "С"),
    "evaluations.to": ("To", "По"),
    "evaluations.agent": ("Agent", "Оператор"),
    "evaluations.all_agents": ("Every agent", "Все операторы"),
    "evaluations.apply": ("Show", "Показать"),
    "evaluations.date": ("Contact date", "Дата обращения"),
    "evaluations.contact": ("Contact", "Обращение"),
    "evaluations.open_contact": ("Contact {id}", "Обращение {id}"),
    "evaluations.count": (
        "Evaluations: {count} · mean score {mean}",
        "Оценок: {count} · средний балл {mean}",
    ),
    "evaluations.empty": ("No evaluations in this period.", "За этот период оценок нет."),
}

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def strings_for(language: str) -> dict[str, str]:
    """The whole catalogue in one language (English for an unknown one)."""
    index = LANGUAGES.index(language) if language in LANGUAGES else 0
    return {key: pair[index] for key, pair in STRINGS.items()}


def fill(text: str, values: Mapping[str, Any]) -> str:
    """``{name}`` placeholders replaced by ``values``; an unknown one is left as it is."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def translator(language: str) -> Callable[..., str]:
    """``t(key, **values)`` for templates. An unknown key shows as itself (a test fails on
    it), never as an error page in front of an agent."""
    table = strings_for(language)

    def t(key: str, **values: Any) -> str:
        return fill(table.get(key, key), values)

    return t


def negotiate(preferred: str | None, accept_language: str) -> str:
    """The user's stored language, else the first supported one the browser asks for."""
    if preferred in LANGUAGES:
        return preferred
    for part in accept_language.split(",")[:20]:
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
