// Kafka -> Realtime, seen by a supabase-js subscriber: joins the public channel `alerts` (which the
// Kafka bridge feeds from the topic bridge.alerts), prints SUBSCRIBED, then waits for a broadcast
// whose payload carries process.env.MARKER and prints it. Run by tests/js/test_kafka_js.py, which
// produces to Kafka meanwhile. Exit code 0 when it arrived, 1 otherwise.
import { anon, subscribed, waitFor } from './env.mjs'

const marker = process.env.MARKER
const client = anon()
const got = []
const channel = client.channel('alerts').on('broadcast', { event: 'alert' }, (message) => got.push(message))
try {
  await subscribed(channel, 10000)
  console.log('SUBSCRIBED')
  await waitFor(() => got.some((m) => m.payload?.marker === marker), 'the Kafka message', 30000)
  const message = got.find((m) => m.payload?.marker === marker)
  console.log('GOT ' + JSON.stringify(message))
  await client.removeAllChannels()
  process.exit(0)
} catch (error) {
  console.error(String(error?.stack ?? error))
  process.exit(1)
}
