"""The Kafka bridge: committed changes to Kafka topics (producer.py, from the replication stream),
and Kafka topics to Realtime broadcast or to Functions (consumers.py). Configured by [kafka] in
supabase/localbase.toml (config.py); started with the server by service.py. docs/kafka.md."""
