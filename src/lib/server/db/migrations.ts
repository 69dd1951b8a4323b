/**
 * Versioned schema migrations. A database made by an older version is migrated forward on
 * open, never dropped. A released migration is frozen: change the schema by appending one.
 * `tests` compare the result of all migrations with src/lib/schema/tables.ts.
 */

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'canonical tables',
    statements: [
      `CREATE TABLE teams (
        team_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        parent_id VARCHAR,
        manager_id VARCHAR
      )`,
      `CREATE TABLE users (
        user_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        team_id VARCHAR,
        email VARCHAR,
        active BOOLEAN DEFAULT TRUE
      )`,
      `CREATE TABLE customers (
        customer_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        industry VARCHAR,
        region VARCHAR,
        source VARCHAR,
        grade VARCHAR,
        owner_id VARCHAR,
        status VARCHAR,
        phone VARCHAR,
        created_at TIMESTAMP,
        last_contact_at TIMESTAMP,
        attributes JSON
      )`,
      `CREATE TABLE opportunities (
        opportunity_id VARCHAR PRIMARY KEY,
        name VARCHAR,
        customer_id VARCHAR,
        owner_id VARCHAR,
        stage VARCHAR NOT NULL,
        status VARCHAR CHECK (status IN ('open', 'won', 'lost')),
        amount DECIMAL(18,2),
        amount_original DECIMAL(18,2),
        currency VARCHAR,
        probability DOUBLE CHECK (probability IS NULL OR (probability >= 0 AND probability <= 1)),
        forecast_category VARCHAR,
        expected_close_date DATE,
        created_at TIMESTAMP,
        closed_at TIMESTAMP,
        loss_reason VARCHAR,
        product VARCHAR,
        source VARCHAR,
        competitor VARCHAR,
        updated_at TIMESTAMP,
        attributes JSON
      )`,
      `CREATE TABLE opportunity_versions (
        opportunity_id VARCHAR NOT NULL,
        valid_from TIMESTAMP NOT NULL,
        valid_to TIMESTAMP,
        stage VARCHAR NOT NULL,
        amount DECIMAL(18,2),
        expected_close_date DATE,
        owner_id VARCHAR,
        forecast_category VARCHAR,
        probability DOUBLE,
        origin VARCHAR
      )`,
      `CREATE TABLE payments (
        payment_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        opportunity_id VARCHAR,
        amount DECIMAL(18,2),
        due_date DATE,
        paid_at DATE,
        paid_amount DECIMAL(18,2),
        attributes JSON
      )`,
      `CREATE TABLE activities (
        activity_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        opportunity_id VARCHAR,
        owner_id VARCHAR,
        type VARCHAR,
        occurred_at TIMESTAMP,
        summary VARCHAR,
        attributes JSON
      )`,
      `CREATE TABLE targets (
        target_id VARCHAR PRIMARY KEY,
        owner_id VARCHAR,
        team_id VARCHAR,
        metric VARCHAR DEFAULT 'won_amount',
        period_start DATE NOT NULL,
        period_end DATE NOT NULL,
        amount DECIMAL(18,2) NOT NULL,
        CHECK ((owner_id IS NULL) <> (team_id IS NULL))
      )`,
      // The view of versions where the stage changed (data-model.md, History).
      `CREATE VIEW stage_events AS
        SELECT opportunity_id, stage, valid_from AS entered_at
        FROM (
          SELECT opportunity_id, stage, valid_from,
                 lag(stage) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS previous_stage
          FROM opportunity_versions
        )
        WHERE previous_stage IS NULL OR previous_stage <> stage`
    ]
  },
  {
    version: 2,
    name: 'sync bookkeeping',
    statements: [
      `CREATE TABLE sync_runs (
        run_id VARCHAR PRIMARY KEY,
        source VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        rows_loaded BIGINT DEFAULT 0,
        rows_updated BIGINT DEFAULT 0,
        rows_rejected BIGINT DEFAULT 0,
        rows_skipped BIGINT DEFAULT 0,
        warnings JSON,
        error VARCHAR
      )`,
      `CREATE TABLE rejected_rows (
        run_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        file VARCHAR,
        row_number BIGINT,
        field VARCHAR,
        value VARCHAR,
        reason VARCHAR NOT NULL,
        raw JSON
      )`,
      `CREATE TABLE meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
      )`
    ]
  },
  {
    version: 4,
    name: 'forecast snapshots',
    statements: [
      // Frozen forecasts (metrics.md, forecast accuracy): what the forecast model said on a
      // day, per owner, for a period; additive, so any team's or the company's is a sum.
      `CREATE TABLE forecast_snapshots (
        as_of DATE NOT NULL,
        taken_at TIMESTAMP NOT NULL,
        period_from DATE NOT NULL,
        period_to DATE NOT NULL,
        owner_id VARCHAR,
        closed_won DOUBLE NOT NULL,
        closed_won_n INTEGER NOT NULL,
        open_pipeline DOUBLE NOT NULL,
        open_n INTEGER NOT NULL,
        forecast_configured DOUBLE NOT NULL,
        forecast_learned DOUBLE NOT NULL,
        commit_total DOUBLE NOT NULL,
        best_case_total DOUBLE NOT NULL,
        pipeline_total DOUBLE NOT NULL
      )`
    ]
  },
  {
    version: 5,
    name: 'sync watermarks',
    statements: [
      // Per source: the watermark of its last successful sync (incremental reads) — connectors/load.
      `CREATE TABLE sync_state (
        source VARCHAR PRIMARY KEY,
        watermark VARCHAR,
        run_id VARCHAR,
        updated_at TIMESTAMP
      )`
    ]
  },
  {
    version: 6,
    name: 'revoked sessions',
    statements: [
      // Sessions ended by /logout (src/lib/server/auth/revocations.ts): a token of one of these
      // is refused until `until`, the latest its session's tokens can live; kept in the file so
      // a restart does not bring a logged-out token back.
      `CREATE TABLE revoked_sessions (
        session VARCHAR PRIMARY KEY,
        until TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP NOT NULL
      )`
    ]
  },
  {
    version: 7,
    name: 'rejected rows name their sheet and column',
    statements: [
      // A workbook's rejected row is found by its sheet as well as its row (docs/connectors.md,
      // "Row rules"); the column is the source's header, the field the canonical one.
      `ALTER TABLE rejected_rows ADD COLUMN sheet VARCHAR`,
      `ALTER TABLE rejected_rows ADD COLUMN column_name VARCHAR`
    ]
  },
  {
    version: 8,
    name: 'targets by region',
    statements: [
      // A target may be set for the customers of one region (the `region` filter, e.g. 上海): a
      // regional figure's attainment divides its wins by that region's target, never the
      // company's (models/common/targets.ts). Null: the target covers every region.
      `ALTER TABLE targets ADD COLUMN region VARCHAR`
    ]
  },
  {
    version: 10,
    name: 'forecast calls',
    statements: [
      // The forecast call (src/lib/server/forecast-call): what a rep (their own number) or a
      // manager (their team's) commits to for a period, one row per submission, never updated:
      // the latest per (period, level, subject) is the current call, the rest its history. Not
      // CRM data: no sync or import writes these tables, and writes do not bump data_version.
      `CREATE TABLE forecast_calls (
        call_id VARCHAR PRIMARY KEY,
        period_from DATE NOT NULL,
        period_to DATE NOT NULL,
        level VARCHAR NOT NULL CHECK (level IN ('rep', 'team')),
        subject VARCHAR NOT NULL,
        commit_amount DECIMAL(18,2) NOT NULL,
        best_case_amount DECIMAL(18,2) NOT NULL,
        note VARCHAR,
        submitted_by VARCHAR NOT NULL,
        submitted_role VARCHAR NOT NULL,
        submitted_at TIMESTAMP NOT NULL
      )`
    ]
  },
  {
    version: 11,
    name: 'forecast call audit',
    statements: [
      // Every attempt to write a call, allowed or refused, with who, when, what and why.
      `CREATE TABLE forecast_call_audit (
        audit_id VARCHAR PRIMARY KEY,
        logged_at TIMESTAMP NOT NULL,
        actor VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL,
        reason VARCHAR,
        call_id VARCHAR,
        payload JSON
      )`
    ]
  },
  {
    version: 12,
    name: 'alert evaluations, deliveries and state',
    statements: [
      // Alerts and reports (src/lib/server/alerts): every evaluation per rule and audience
      // member, every delivery attempt per channel, and per (rule, member, channel) the last
      // state delivered (de-duplication). Bookkeeping, not CRM data: writes do not bump
      // data_version. Times are UTC.
      `CREATE TABLE alert_evaluations (
        evaluation_id VARCHAR PRIMARY KEY,
        rule VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        audience VARCHAR NOT NULL,
        audience_label VARCHAR,
        evaluated_at TIMESTAMP NOT NULL,
        as_of DATE,
        trigger VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        state_key VARCHAR NOT NULL,
        hits INTEGER NOT NULL,
        summary VARCHAR,
        detail JSON,
        error VARCHAR
      )`,
      `CREATE TABLE alert_deliveries (
        delivery_id VARCHAR PRIMARY KEY,
        evaluation_id VARCHAR NOT NULL,
        rule VARCHAR NOT NULL,
        audience VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        channel_type VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        state_key VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        http_status INTEGER,
        error VARCHAR,
        recipients VARCHAR,
        created_at TIMESTAMP NOT NULL,
        sent_at TIMESTAMP
      )`,
      `CREATE TABLE alert_state (
        rule VARCHAR NOT NULL,
        audience VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        state_key VARCHAR NOT NULL,
        firing BOOLEAN NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (rule, audience, channel)
      )`,
      // Report images served at <public_url>/alerts/image/<id>.png for channels that show an
      // image only by URL (DingTalk markdown, Slack); the id is 128 random bits.
      `CREATE TABLE alert_images (
        image_id VARCHAR PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        png_base64 VARCHAR NOT NULL
      )`
    ]
  },
  {
    version: 14,
    name: 'forecast call category overrides',
    statements: [
      // A deal's forecast category as the rep (or manager) calls it inside a forecast call
      // (src/lib/server/forecast-call): one row per deal per submission, tied to the call it
      // was submitted with, never updated (the overrides of a subject's latest call are the
      // current ones; earlier rows are the history). Not CRM data: no sync writes it.
      `CREATE TABLE forecast_call_overrides (
        call_id VARCHAR NOT NULL,
        opportunity_id VARCHAR NOT NULL,
        system_category VARCHAR,
        category VARCHAR NOT NULL CHECK (category IN ('commit', 'best_case', 'pipeline', 'omitted')),
        amount DECIMAL(18,2),
        PRIMARY KEY (call_id, opportunity_id)
      )`
    ]
  },
  {
    version: 16,
    name: 'frozen statistical forecast',
    statements: [
      // The statistical forecast frozen with the others (src/lib/server/models/snapshots.ts):
      // the owner's forecast and P10/P50/P90, and the band of the snapshot's total (all its
      // owners, one shared shock; quantiles do not add) with how many owner rows it spans.
      // Rows frozen before this migration keep NULL: not frozen, not zero.
      `ALTER TABLE forecast_snapshots ADD COLUMN forecast_statistical DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN stat_p10 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN stat_p50 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN stat_p90 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN total_p10 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN total_p50 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN total_p90 DOUBLE`,
      `ALTER TABLE forecast_snapshots ADD COLUMN total_owners INTEGER`
    ]
  },
  {
    version: 17,
    name: 'rejection reasons with a code',
    statements: [
      // Beside the English reason, its stable code and parameters (connectors/pipeline/reasons.ts),
      // so the upload page says it in the viewer's language. Rows rejected before: NULL (English only).
      `ALTER TABLE rejected_rows ADD COLUMN reason_code VARCHAR`,
      `ALTER TABLE rejected_rows ADD COLUMN reason_params JSON`
    ]
  },
  {
    version: 18,
    name: 'sync memo of raw rows',
    statements: [
      // Per source, what each raw CSV row (by a hash of its cells) cleaned into at the last
      // sync: its deal id, which columns it set, and the customer and owner rows it described
      // (connectors/load/sync-memo.ts). A re-import cleans and stages only rows whose hash is
      // new. Valid only under the same signature (mapping, config, cleaning code) and while
      // nothing else has written since (`data_version` one below the sync's).
      `CREATE TABLE sync_memo (
        source VARCHAR NOT NULL, h UBIGINT NOT NULL, pos BIGINT NOT NULL, opportunity_id VARCHAR, present BIGINT,
        c_ref BOOLEAN, c_customer_id VARCHAR, c_name VARCHAR, c_industry VARCHAR, c_region VARCHAR, c_phone VARCHAR,
        c_grade VARCHAR, c_name_key VARCHAR, c_phone_key VARCHAR, c_orig_id VARCHAR,
        u_ref BOOLEAN, u_user_id VARCHAR, u_name VARCHAR, u_team_id VARCHAR
      )`,
      `CREATE TABLE sync_memo_state (source VARCHAR PRIMARY KEY, signature VARCHAR NOT NULL, data_version BIGINT NOT NULL)`
    ]
  }
];

// The highest number, wherever a merge put it in the list.
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));
