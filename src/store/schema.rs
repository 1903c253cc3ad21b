// Written by hand to match migrations/sqlite; SQL types both SQLite and PostgreSQL share.

diesel::table! {
    cycles (id) {
        id -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        status -> Text,
        agencies -> Integer,
        slot -> Nullable<BigInt>,
    }
}

diesel::table! {
    cycle_work (cycle_id, agency_code) {
        cycle_id -> BigInt,
        agency_code -> Text,
        owner -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        claims -> Integer,
        claimed_by -> Text,
        done -> Bool,
        observation -> Nullable<Text>,
        harvest_state -> Nullable<Text>,
        datasets -> Nullable<Text>,
    }
}

diesel::table! {
    agency_results (cycle_id, agency_code) {
        cycle_id -> BigInt,
        agency_code -> Text,
        kind -> Text,
        name -> Text,
        index_points -> Double,
        rank_overall -> Integer,
        rank_in_kind -> Integer,
        completeness -> Double,
        datasets -> BigInt,
    }
}

diesel::table! {
    agency_components (cycle_id, agency_code, component) {
        cycle_id -> BigInt,
        agency_code -> Text,
        component -> Text,
        verdict -> Nullable<Text>,
        points -> Double,
        max_points -> Double,
    }
}

diesel::table! {
    findings (id) {
        id -> BigInt,
        cycle_id -> BigInt,
        agency_code -> Text,
        rule -> Text,
        severity -> Text,
        subject -> Text,
        message -> Text,
        fix -> Text,
        points -> Double,
    }
}

diesel::table! {
    catalog_fetches (cycle_id, agency_code) {
        cycle_id -> BigInt,
        agency_code -> Text,
        url -> Nullable<Text>,
        outcome -> Text,
        detail -> Nullable<Text>,
        http_status -> Nullable<Integer>,
        bytes -> BigInt,
        datasets -> BigInt,
        duration_ms -> BigInt,
        links_checked -> Nullable<BigInt>,
        links_broken -> Nullable<BigInt>,
        links_mismatched -> Nullable<BigInt>,
    }
}

diesel::table! {
    service_probes (id) {
        id -> BigInt,
        cycle_id -> BigInt,
        agency_code -> Text,
        url -> Text,
        platform -> Nullable<Text>,
        http_status -> Nullable<Integer>,
        latency_ms -> BigInt,
        failure_class -> Nullable<Text>,
        failure -> Nullable<Text>,
        tls_expires_at -> Nullable<BigInt>,
        http_version -> Nullable<Text>,
        dns_ms -> Nullable<BigInt>,
        connect_ms -> Nullable<BigInt>,
        tls_ms -> Nullable<BigInt>,
        first_byte_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    link_states (agency_code, url) {
        agency_code -> Text,
        url -> Text,
        media_type -> Nullable<Text>,
        class -> Text,
        http_status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        final_url -> Nullable<Text>,
        detail -> Text,
        consecutive_failures -> Integer,
        broken -> Bool,
        first_failure -> Nullable<Timestamp>,
        last_success -> Nullable<Timestamp>,
        checked_at -> Timestamp,
        cycle_id -> BigInt,
    }
}

diesel::table! {
    link_ledgers (agency_code) {
        agency_code -> Text,
        ledger -> Text,
    }
}

diesel::table! {
    datasets (agency_code, dataset_key) {
        agency_code -> Text,
        dataset_key -> Text,
        identifier -> Nullable<Text>,
        title -> Nullable<Text>,
        publisher -> Nullable<Text>,
        modified -> Nullable<Text>,
        license -> Nullable<Text>,
        keywords -> Text,
        formats -> Text,
        download_urls -> Text,
        landing_url -> Nullable<Text>,
        search_text -> Text,
        harvested_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    cycles,
    agency_results,
    agency_components,
    findings,
    catalog_fetches,
    service_probes,
    harvest_states,
    link_states,
    link_ledgers,
    datasets,
    cycle_work,
);

diesel::table! {
    harvest_states (agency_code) {
        agency_code -> Text,
        state -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(agency_results -> cycles (cycle_id));
