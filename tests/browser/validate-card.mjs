// Parses an Adaptive Card (JSON on standard input) with Microsoft's own `adaptivecards` library,
// targeting schema 1.5, and prints every validation event its parse and its property check raise
// as a JSON list (empty: the card is valid). Used by tests/test_teams.py.
// The package's bundled build: its ES-module build imports files without their extension,
// which Node's ES-module loader does not resolve.
import { createRequire } from "node:module";

const AC = createRequire(import.meta.url)("adaptivecards/dist/adaptivecards.js");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const context = new AC.SerializationContext(AC.Versions.v1_5);
const card = new AC.AdaptiveCard();
card.parse(JSON.parse(input), context);
const events = [];
for (let i = 0; i < context.eventCount; i++) {
  const e = context.getEventAt(i);
  events.push({ phase: e.phase, event: AC.ValidationEvent[e.event], message: e.message });
}
const checked = card.validateProperties();
for (const e of checked.validationEvents) {
  events.push({ phase: "validation", event: AC.ValidationEvent[e.event], message: e.message });
}
process.stdout.write(JSON.stringify(events));
