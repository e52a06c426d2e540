"""Versioned schema migrations, applied in order at open.

Theory of operation: ``schema_version`` holds one row per applied migration. Each
migration runs as one script inside ``BEGIN IMMEDIATE ... COMMIT`` with its version row,
so a database is always exactly at some version; a failed migration rolls back whole.
Every migration without its row runs at open, in the order listed, so a number kept free
for work landing later (5, beside 6) still applies to a database that already has 6.
Never edit a shipped migration: append a new one.

Contacts are a *projection of their timeline*. A milestone is one
``INSERT OR IGNORE INTO contact_events`` keyed by ``(contact_key, kind, ident)``; the
triggers below create the contact row on first sight and fold the event into it within
the same statement, hence the same transaction. An event seen twice is ignored by the
UNIQUE key, so its trigger does not fire and nothing changes; a process killed between
two milestones leaves every earlier one committed and the row consistent with them.
"""

from __future__ import annotations

OUTCOMES_SQL = (
    "'', 'answered', 'abandoned_ivr', 'abandoned_queue', 'callback', 'voicemail', "
    "'overflow', 'failed'"
)

# Seconds on hold so far, counting a hold still running at NEW.at.
_HOLD_TOTAL = (
    "(hold_seconds + CASE WHEN hold_started_at IS NOT NULL "
    "THEN max(0, NEW.at - hold_started_at) ELSE 0 END)"
)

MIGRATION_1 = f"""
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE,
    company TEXT NOT NULL DEFAULT '',
    tier TEXT NOT NULL DEFAULT 'standard',
    language TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX customers_name ON customers(name);

CREATE TABLE phones (
    phone TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    extension TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX phones_customer ON phones(customer_id);

CREATE TABLE accounts (
    account TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX accounts_customer ON accounts(customer_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound')),
    caller TEXT NOT NULL DEFAULT '',
    dialed TEXT NOT NULL DEFAULT '',
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at REAL NOT NULL,
    arrived_at REAL,
    ivr_path TEXT NOT NULL DEFAULT '[]',
    ivr_result TEXT NOT NULL DEFAULT '',
    queue TEXT NOT NULL DEFAULT '',
    queued_at REAL,
    offered_at REAL,
    offers INTEGER NOT NULL DEFAULT 0,
    agent_id TEXT NOT NULL DEFAULT '',
    answered_at REAL,
    ended_at REAL,
    wrapped_at REAL,
    wait_seconds REAL,
    talk_seconds REAL,
    hold_started_at REAL,
    hold_seconds REAL NOT NULL DEFAULT 0,
    wrapup_seconds REAL,
    outcome TEXT NOT NULL DEFAULT '' CHECK (outcome IN ({OUTCOMES_SQL})),
    disposition TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    recording TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_customer ON contacts(customer_id, created_at DESC, id DESC);
CREATE INDEX contacts_created ON contacts(created_at);
CREATE INDEX contacts_queued ON contacts(queued_at);

CREATE TABLE contact_events (
    id INTEGER PRIMARY KEY,
    contact_key TEXT NOT NULL REFERENCES contacts(key) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ident TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{{}}',
    UNIQUE (contact_key, kind, ident)
);

CREATE TRIGGER contact_events_open BEFORE INSERT ON contact_events
BEGIN
    INSERT OR IGNORE INTO contacts(key, created_at) VALUES (NEW.contact_key, NEW.at);
END;

CREATE TRIGGER contact_arrived AFTER INSERT ON contact_events WHEN NEW.kind = 'arrived'
BEGIN
    UPDATE contacts SET
        direction = json_extract(NEW.data, '$.direction'),
        caller = json_extract(NEW.data, '$.caller'),
        dialed = json_extract(NEW.data, '$.dialed'),
        arrived_at = NEW.at,
        created_at = min(created_at, NEW.at),
        customer_id = COALESCE(
            customer_id,
            json_extract(NEW.data, '$.customer_id'),
            (SELECT customer_id FROM phones WHERE phone = json_extract(NEW.data, '$.party'))
        )
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_ivr_step AFTER INSERT ON contact_events WHEN NEW.kind = 'ivr_step'
BEGIN
    UPDATE contacts SET ivr_path = json_insert(ivr_path, '$[#]', json_extract(NEW.data, '$.step'))
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_ivr_done AFTER INSERT ON contact_events WHEN NEW.kind = 'ivr_done'
BEGIN
    UPDATE contacts SET
        ivr_path = CASE WHEN json_extract(NEW.data, '$.path') IS NULL THEN ivr_path
                        ELSE json(json_extract(NEW.data, '$.path')) END,
        ivr_result = json_extract(NEW.data, '$.result')
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_queued AFTER INSERT ON contact_events WHEN NEW.kind = 'queued'
BEGIN
    UPDATE contacts SET
        queue = json_extract(NEW.data, '$.queue'),
        queued_at = COALESCE(queued_at, NEW.at)
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_offered AFTER INSERT ON contact_events WHEN NEW.kind = 'offered'
BEGIN
    UPDATE contacts SET
        agent_id = CASE WHEN answered_at IS NULL THEN json_extract(NEW.data, '$.agent_id')
                        ELSE agent_id END,
        offered_at = COALESCE(offered_at, NEW.at),
        offers = offers + 1
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_answered AFTER INSERT ON contact_events WHEN NEW.kind = 'answered'
BEGIN
    UPDATE contacts SET
        agent_id = json_extract(NEW.data, '$.agent_id'),
        answered_at = NEW.at,
        wait_seconds = CASE WHEN queued_at IS NOT NULL THEN max(0, NEW.at - queued_at)
                            ELSE 0 END
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_held AFTER INSERT ON contact_events WHEN NEW.kind = 'held'
BEGIN
    UPDATE contacts SET hold_started_at = COALESCE(hold_started_at, NEW.at)
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_unheld AFTER INSERT ON contact_events WHEN NEW.kind = 'unheld'
BEGIN
    UPDATE contacts SET hold_seconds = {_HOLD_TOTAL}, hold_started_at = NULL
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_recording AFTER INSERT ON contact_events WHEN NEW.kind = 'recording'
BEGIN
    UPDATE contacts SET recording = json_extract(NEW.data, '$.ref')
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_ended AFTER INSERT ON contact_events WHEN NEW.kind = 'ended'
BEGIN
    UPDATE contacts SET
        ended_at = NEW.at,
        outcome = json_extract(NEW.data, '$.outcome'),
        hold_seconds = {_HOLD_TOTAL},
        hold_started_at = NULL,
        talk_seconds = CASE WHEN answered_at IS NOT NULL
                            THEN max(0, NEW.at - answered_at - {_HOLD_TOTAL}) END,
        wait_seconds = CASE WHEN answered_at IS NULL AND queued_at IS NOT NULL
                            THEN max(0, NEW.at - queued_at) ELSE wait_seconds END,
        wrapup_seconds = CASE WHEN wrapped_at IS NOT NULL THEN max(0, wrapped_at - NEW.at)
                              ELSE wrapup_seconds END
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_wrapup AFTER INSERT ON contact_events WHEN NEW.kind = 'wrapup'
BEGIN
    UPDATE contacts SET
        disposition = json_extract(NEW.data, '$.disposition'),
        notes = json_extract(NEW.data, '$.notes'),
        wrapped_at = COALESCE(wrapped_at, NEW.at),
        wrapup_seconds = CASE WHEN ended_at IS NOT NULL
                              THEN max(0, COALESCE(wrapped_at, NEW.at) - ended_at) END
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_customer AFTER INSERT ON contact_events WHEN NEW.kind = 'customer'
BEGIN
    UPDATE contacts SET customer_id = json_extract(NEW.data, '$.customer_id')
    WHERE key = NEW.contact_key;
END;

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
    due_at REAL,
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX cases_customer ON cases(customer_id, status);

CREATE TABLE case_contacts (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (case_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX case_contacts_contact ON case_contacts(contact_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    agent_id TEXT,
    created_at REAL NOT NULL
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX audit_at ON audit(at);
"""

# Console sessions survive a restart of the service. The token itself is never stored:
# ``key`` is an HMAC of it under security.session_secret, so a copy of the database does
# not log anybody in.
MIGRATION_2 = """
CREATE TABLE sessions (
    key TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    agent_id TEXT,
    csrf TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX sessions_user ON sessions(username);
CREATE INDEX sessions_expires ON sessions(expires);
"""

# An admin can switch a console user off without deleting them (their audit trail and
# agent id stay); a disabled user cannot log in and has no sessions.
MIGRATION_3 = """
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
CREATE INDEX users_agent ON users(agent_id);
"""

# Restart takeover (docs/ARCHITECTURE.md "Restart and takeover"). A contact that was open
# when the service stopped and whose channel was gone when it came back is closed as
# ``lost_during_outage``: SQLite cannot ALTER a CHECK constraint, so the constraint's text is
# widened in place (SQLite's documented procedure for a change that leaves every stored row
# valid; the store re-reads the schema after migrating). Agents' states are kept so that a
# restart brings every agent back as they were.
MIGRATION_4 = """
PRAGMA writable_schema=ON;
UPDATE sqlite_schema SET sql = replace(sql, '''failed'')', '''failed'', ''lost_during_outage'')')
WHERE type = 'table' AND name = 'contacts';
PRAGMA writable_schema=OFF;
CREATE TABLE agent_states (
    agent_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    since REAL NOT NULL,
    wrap_up_until REAL,
    wrap_queue TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX contacts_open ON contacts(created_at) WHERE ended_at IS NULL;
"""

# What an agent typed for a wrap-up and has not saved (crm_lookup.drafts): no foreign key,
# the draft may come before the contact's row does.
MIGRATION_5 = """
CREATE TABLE wrapup_drafts (
    contact_id INTEGER PRIMARY KEY,
    agent_id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX wrapup_drafts_agent ON wrapup_drafts(agent_id);
"""

# The admin page shows when each user last signed in (NULL: never); each user picks the
# console's language ('' = follow the browser).
MIGRATION_6 = """
ALTER TABLE users ADD COLUMN last_login REAL;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT '';
"""

# Likely duplicates by e-mail (crm_lookup.customers.likely_duplicates) without a scan.
MIGRATION_7 = """
CREATE INDEX customers_email ON customers(lower(email)) WHERE email != '';
"""

# Likely duplicates by name (crm_lookup.customers.name_keys): the name folded (case, accents,
# spacing) and the surname + initial, each indexed; customers_unkeyed finds rows stored
# before this migration (CustomerRepo.fill_name_keys, run at open) and then stays empty.
MIGRATION_8 = """
ALTER TABLE customers ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN surname_key TEXT NOT NULL DEFAULT '';
CREATE INDEX customers_name_key ON customers(name_key) WHERE name_key != '';
CREATE INDEX customers_surname_key ON customers(surname_key) WHERE surname_key != '';
CREATE INDEX customers_unkeyed ON customers(id) WHERE name_key = '';
"""

# Where a merged-away customer went (CustomerRepo.merged_into), so an old link or
# screen-pop reaches the kept customer. A table of its own, after migration 8 shipped.
# No foreign keys: both customers may go later.
MIGRATION_9 = """
CREATE TABLE merged_customers (
    duplicate_id INTEGER PRIMARY KEY,
    kept_id INTEGER NOT NULL
);
"""

# Quality review (crm_lookup.evaluations): a supervisor's scored form for a contact. The
# form is kept as it was scored (``form``, JSON), so editing the forms file changes no old
# score; ``agent_id`` is the contact's agent when it was scored; ``score`` is NULL when
# every question was "does not apply".
MIGRATION_10 = """
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    form_id TEXT NOT NULL,
    form TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    evaluator TEXT NOT NULL,
    answers TEXT NOT NULL,
    comments TEXT NOT NULL DEFAULT '',
    score REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX evaluations_contact ON evaluations(contact_id);
CREATE INDEX evaluations_agent ON evaluations(agent_id, contact_id);
"""

# Agent state history (crm_lookup.report_query: time in each state, logged-in time,
# occupancy). Written by a trigger on agent_states, the row the ContactRecorder saves on
# every change of state, so the history and the current state are one statement and can
# never disagree: a new state closes the agent's open row (ended_at = the new state's
# start) and opens its own. A replay of the same state changes nothing and so logs nothing;
# two states at the same instant keep the later one (a DELETE first, not INSERT OR REPLACE:
# the upsert on agent_states that fires these triggers makes SQLite resolve a conflict in
# the trigger body by ABORT, which lost the agent's saved state). The agents' current
# states seed it.
MIGRATION_12 = """
CREATE TABLE agent_state_log (
    agent_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    ended_at REAL,
    PRIMARY KEY (agent_id, started_at)
) WITHOUT ROWID;
CREATE INDEX agent_state_log_ended ON agent_state_log(ended_at, started_at);
CREATE INDEX agent_state_log_open ON agent_state_log(started_at) WHERE ended_at IS NULL;
INSERT INTO agent_state_log(agent_id, state, reason, started_at)
    SELECT agent_id, state, reason, since FROM agent_states;

CREATE TRIGGER agent_states_log_new AFTER INSERT ON agent_states
BEGIN
    UPDATE agent_state_log SET ended_at = NEW.since
    WHERE agent_id = NEW.agent_id AND ended_at IS NULL AND started_at < NEW.since;
    DELETE FROM agent_state_log WHERE agent_id = NEW.agent_id AND started_at = NEW.since;
    INSERT INTO agent_state_log(agent_id, state, reason, started_at)
    VALUES (NEW.agent_id, NEW.state, NEW.reason, NEW.since);
END;

CREATE TRIGGER agent_states_log_change AFTER UPDATE ON agent_states
WHEN NEW.since IS NOT OLD.since OR NEW.state IS NOT OLD.state OR NEW.reason IS NOT OLD.reason
BEGIN
    UPDATE agent_state_log SET ended_at = NEW.since
    WHERE agent_id = NEW.agent_id AND ended_at IS NULL AND started_at < NEW.since;
    DELETE FROM agent_state_log WHERE agent_id = NEW.agent_id AND started_at = NEW.since;
    INSERT INTO agent_state_log(agent_id, state, reason, started_at)
    VALUES (NEW.agent_id, NEW.state, NEW.reason, NEW.since);
END;
"""

# Reports over a million contacts (bench/reports.py): each contact's transfer count kept
# on its row by a trigger (no scan of contact_events per report), and the contacts of one
# queue or one agent found by time without reading the others'.
MIGRATION_14 = """
ALTER TABLE contacts ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;
UPDATE contacts SET transfers = (
    SELECT count(*) FROM contact_events e
    WHERE e.contact_key = contacts.key AND e.kind = 'note:transfer'
) WHERE key IN (SELECT contact_key FROM contact_events WHERE kind = 'note:transfer');
CREATE TRIGGER contact_transfer AFTER INSERT ON contact_events WHEN NEW.kind = 'note:transfer'
BEGIN
    UPDATE contacts SET transfers = transfers + 1 WHERE key = NEW.contact_key;
END;
CREATE INDEX contacts_queue_queued ON contacts(queue, queued_at);
CREATE INDEX contacts_agent_queued ON contacts(agent_id, queued_at);
"""

# The supervisor alerts log (routing.alerting): one row per alert, written when it is
# raised and updated when it is acknowledged or cleared; ``id`` is the alert's own id
# (it exists before the row: a failing database is itself an alert).
MIGRATION_11 = """
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    queue TEXT,
    agent_id TEXT,
    pbx TEXT,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    raised_at REAL NOT NULL,
    cleared_at REAL,
    acked_by TEXT,
    acked_at REAL
);
CREATE INDEX alerts_raised ON alerts(raised_at);
"""

# Digital contacts (issue 16; crm_lookup.conversations, routing.digital): a chat or an
# email conversation is a contact like a call (one row, one history), with its channel
# (from the ``arrived`` event's data; calls keep 'voice') and the time of the first agent
# reply (a ``first_response`` event; NULL for calls, whose reports use answered_at). The
# conversation itself and its messages live beside it: ``conversations`` (one row per
# contact key, the state the desk restores after a restart) and ``messages`` (numbered per
# conversation, bodies at most 64 KiB). The visitor's resume token is kept hashed only.
MIGRATION_15 = """
ALTER TABLE contacts ADD COLUMN channel TEXT NOT NULL DEFAULT 'voice'
    CHECK (channel IN ('voice', 'chat', 'email'));
ALTER TABLE contacts ADD COLUMN first_response_at REAL;

CREATE TRIGGER contact_channel AFTER INSERT ON contact_events
WHEN NEW.kind = 'arrived' AND json_extract(NEW.data, '$.channel') IS NOT NULL
BEGIN
    UPDATE contacts SET channel = json_extract(NEW.data, '$.channel')
    WHERE key = NEW.contact_key;
END;

CREATE TRIGGER contact_first_response AFTER INSERT ON contact_events
WHEN NEW.kind = 'first_response'
BEGIN
    UPDATE contacts SET first_response_at = COALESCE(first_response_at, NEW.at)
    WHERE key = NEW.contact_key;
END;

CREATE TABLE conversations (
    key TEXT PRIMARY KEY REFERENCES contacts(key) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('chat', 'email')),
    state TEXT NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'active', 'ended', 'closed')),
    queue TEXT NOT NULL DEFAULT '',
    agent_id TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    skills TEXT NOT NULL DEFAULT '{}',
    subject TEXT NOT NULL DEFAULT '',
    party_name TEXT NOT NULL DEFAULT '',
    party_phone TEXT NOT NULL DEFAULT '',
    party_email TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    thread TEXT NOT NULL DEFAULT '',
    visitor_token_hash TEXT NOT NULL DEFAULT '',
    last_seq INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_open ON conversations(created_at) WHERE state != 'closed';
CREATE INDEX conversations_thread ON conversations(thread) WHERE thread != '';

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_key TEXT NOT NULL REFERENCES conversations(key) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL CHECK (sender IN ('customer', 'agent', 'system')),
    agent_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL CHECK (length(body) <= 65536),
    meta TEXT NOT NULL DEFAULT '{}',
    at REAL NOT NULL,
    UNIQUE (conversation_key, seq)
);
"""

# The knowledge base (issue 17, crm_lookup.knowledge). FTS5 over an external-content
# table: the index holds no copy of the text, triggers keep it in step with the rows.
# It indexes stemmed shadow columns (crm_lookup.kb_text: FTS5 has no Russian stemmer),
# which only the repository writes; a vote or a use counter changes no indexed column,
# so it does not touch the index. articles_title_fts indexes titles and tags alone: the
# search asks it first (crm_lookup.knowledge), so a word in thousands of bodies costs the
# ranking of the few hundred titles that hold it. article_votes: one vote per user per article (a second
# vote replaces the first); article_uses: which article an agent used on which contact.
MIGRATION_18 = """
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL CHECK (language IN ('en', 'ru')),
    owner TEXT NOT NULL,
    last_reviewed_at REAL,
    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    uses INTEGER NOT NULL DEFAULT 0,
    helpful INTEGER NOT NULL DEFAULT 0,
    unhelpful INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    search_title TEXT NOT NULL DEFAULT '',
    search_body TEXT NOT NULL DEFAULT '',
    search_tags TEXT NOT NULL DEFAULT ''
);
CREATE INDEX articles_updated ON articles(updated_at);

CREATE VIRTUAL TABLE articles_fts USING fts5(
    search_title, search_body, search_tags,
    content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE articles_title_fts USING fts5(
    search_title, search_tags,
    content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
BEGIN
    INSERT INTO articles_fts(rowid, search_title, search_body, search_tags)
    VALUES (NEW.id, NEW.search_title, NEW.search_body, NEW.search_tags);
    INSERT INTO articles_title_fts(rowid, search_title, search_tags)
    VALUES (NEW.id, NEW.search_title, NEW.search_tags);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, search_title, search_body, search_tags)
    VALUES ('delete', OLD.id, OLD.search_title, OLD.search_body, OLD.search_tags);
    INSERT INTO articles_title_fts(articles_title_fts, rowid, search_title, search_tags)
    VALUES ('delete', OLD.id, OLD.search_title, OLD.search_tags);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF search_title, search_body, search_tags
ON articles
BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, search_title, search_body, search_tags)
    VALUES ('delete', OLD.id, OLD.search_title, OLD.search_body, OLD.search_tags);
    INSERT INTO articles_fts(rowid, search_title, search_body, search_tags)
    VALUES (NEW.id, NEW.search_title, NEW.search_body, NEW.search_tags);
    INSERT INTO articles_title_fts(articles_title_fts, rowid, search_title, search_tags)
    VALUES ('delete', OLD.id, OLD.search_title, OLD.search_tags);
    INSERT INTO articles_title_fts(rowid, search_title, search_tags)
    VALUES (NEW.id, NEW.search_title, NEW.search_tags);
END;

CREATE TABLE article_votes (
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    at REAL NOT NULL,
    PRIMARY KEY (article_id, username)
);
CREATE TABLE article_uses (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    contact_id INTEGER,
    username TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX article_uses_contact ON article_uses(contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX article_uses_article ON article_uses(article_id, at);
"""

# Cases with SLA (issue 17; docs/ARCHITECTURE.md "Cases and SLA (issue 17)"). The status
# set changes (new/open/pending_customer/resolved/closed; the old open/pending/closed map
# to open/pending_customer/closed), and SQLite cannot alter a CHECK constraint that old
# rows would break, so the table is rebuilt the documented way (create, copy, drop,
# rename) keeping every id. Dropping ``cases`` with foreign keys on would cascade into
# ``case_contacts``, so its links are set aside first and put back after. The case's
# timeline (created, linked contacts, notes, status/priority/assignee changes) is
# ``case_events``; the old cases get their "created" and "contact" entries. The number
# shown (C-000123) is the id formatted, not stored.
MIGRATION_19 = """
CREATE TABLE cases_v19 (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'open', 'pending_customer', 'resolved', 'closed')),
    priority TEXT NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category TEXT NOT NULL DEFAULT '',
    queue TEXT NOT NULL DEFAULT '',
    agent_id TEXT,
    due_at REAL,
    notes TEXT NOT NULL DEFAULT '',
    first_response_due REAL,
    first_response_at REAL,
    resolution_due REAL,
    resolved_at REAL,
    paused_seconds REAL NOT NULL DEFAULT 0,
    paused_since REAL,
    first_response_breached INTEGER NOT NULL DEFAULT 0,
    resolution_breached INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
INSERT INTO cases_v19(id, customer_id, subject, status, due_at, notes, first_response_at,
                      resolved_at, paused_since, created_at, updated_at)
SELECT id, customer_id, subject,
       CASE status WHEN 'pending' THEN 'pending_customer' ELSE status END,
       due_at, notes, created_at,
       CASE WHEN status = 'closed' THEN updated_at END,
       CASE WHEN status = 'pending' THEN updated_at END,
       created_at, updated_at
FROM cases;
CREATE TABLE case_links_v19 AS SELECT case_id, contact_id FROM case_contacts;
DROP TABLE case_contacts;
DROP TABLE cases;
ALTER TABLE cases_v19 RENAME TO cases;
CREATE INDEX cases_customer ON cases(customer_id, status);
CREATE INDEX cases_open ON cases(status, queue) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_created ON cases(created_at);
CREATE TABLE case_contacts (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (case_id, contact_id)
) WITHOUT ROWID;
INSERT INTO case_contacts SELECT case_id, contact_id FROM case_links_v19;
DROP TABLE case_links_v19;
CREATE INDEX case_contacts_contact ON case_contacts(contact_id);
CREATE TABLE case_events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    body TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}',
    actor TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX case_events_case ON case_events(case_id, at);
INSERT INTO case_events(case_id, kind, at) SELECT id, 'created', created_at FROM cases;
INSERT INTO case_events(case_id, kind, contact_id, at)
SELECT l.case_id, 'contact', l.contact_id, c.created_at
FROM case_contacts l JOIN contacts c ON c.id = l.contact_id;
"""

# The email channel (routing.mail_inbound / mail_outbound): every message in or out by its
# Message-ID, with the conversation it belongs to, so a reply (In-Reply-To / References)
# finds its conversation and a re-delivered message (an IMAP re-fetch after a crash) is
# recognised; bounces and auto-replies are kept here against their thread though no agent
# sees them. conversation_key has no foreign key: a bounce may belong to no conversation.
# Attachments: the file under the data dir (content-addressed), its metadata here.
MIGRATION_16 = """
CREATE TABLE email_messages (
    message_id TEXT PRIMARY KEY,
    conversation_key TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind TEXT NOT NULL DEFAULT 'mail' CHECK (kind IN ('mail', 'bounce', 'auto_reply')),
    sender TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    in_reply_to TEXT NOT NULL DEFAULT '',
    refs TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX email_messages_conversation ON email_messages(conversation_key, at);
CREATE TABLE email_attachments (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES email_messages(message_id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX email_attachments_message ON email_attachments(message_id);
"""

# Reports by channel (crm_lookup.report_query): the contacts of one channel found by time
# without reading the others' (a chat report on a site where nine in ten contacts are calls).
MIGRATION_17 = """
CREATE INDEX contacts_channel_queued ON contacts(channel, queued_at);
"""

# The case SLA check reads the cases settled since its last run (routing.case_sla,
# CaseRepo.settled_since): by when they were resolved, not a scan of every case.
MIGRATION_20 = """
CREATE INDEX cases_settled ON cases(resolved_at) WHERE resolved_at IS NOT NULL;
"""

# (version, script). Append only.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, MIGRATION_1),
    (2, MIGRATION_2),
    (3, MIGRATION_3),
    (4, MIGRATION_4),
    (5, MIGRATION_5),
    (6, MIGRATION_6),
    (7, MIGRATION_7),
    (8, MIGRATION_8),
    (9, MIGRATION_9),
    (10, MIGRATION_10),
    (11, MIGRATION_11),
    (12, MIGRATION_12),
    (14, MIGRATION_14),
    (15, MIGRATION_15),
    (16, MIGRATION_16),
    (17, MIGRATION_17),
    (18, MIGRATION_18),
    (19, MIGRATION_19),
    (20, MIGRATION_20),
)

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
)
"""
