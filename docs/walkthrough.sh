#!/usr/bin/env bash
# A curl walkthrough of the API: create a live chat, assign an operator, initiate a session
# with a new customer, see the second attempt refused with 409, and take a session from the
# queue that a customer's own message opened.
#
#   BASE_URL=http://localhost:3000 ADMIN_API_KEY=... bash docs/walkthrough.sh
#
# Each step prints the HTTP status and the response; the script stops at the first step whose
# status is not the expected one.
set -euo pipefail

BASE_URL="${BASE_URL:-http://localhost:3000}"
: "${ADMIN_API_KEY:?set ADMIN_API_KEY to the key the server printed or was given}"
AUTH="Authorization: Bearer ${ADMIN_API_KEY}"
JSON="Content-Type: application/json"

# step NAME EXPECTED_STATUS curl-arguments... : runs curl, prints the result, checks the status.
step() {
  local name="$1" expected="$2"; shift 2
  local out status
  out="$(curl -sS -w '\n%{http_code}' "$@")"
  status="${out##*$'\n'}"
  BODY="${out%$'\n'*}"
  printf '\n== %s: HTTP %s\n%s\n' "$name" "$status" "$BODY"
  if [ "$status" != "$expected" ]; then
    echo "expected HTTP $expected" >&2
    exit 1
  fi
}
# field PATH: a value of the last response, e.g. `field id` or `field items.0.id`.
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(process.argv[1].split(".").reduce((v,k)=>v?.[k],JSON.parse(s))))' "$1" <<<"$BODY"; }

# 1. Connect a WhatsApp Business number as a live chat (admin). Secrets are write-only.
step "create a live chat" 201 -X POST "$BASE_URL/live-chats" -H "$AUTH" -H "$JSON" -d '{
  "name": "Support (WhatsApp)",
  "channel": { "type": "whatsapp", "phoneNumberId": "106540352242922", "accessToken": "EAAG-your-token",
               "appSecret": "your-app-secret", "verifyToken": "your-verify-token" }
}'
LIVE_CHAT_ID="$(field id)"

# 2. Assign operator op-17 to it (idempotent).
step "assign an operator" 204 -X PUT "$BASE_URL/live-chats/$LIVE_CHAT_ID/operators/op-17" -H "$AUTH"

# 3. Initiate a session with a new customer. WhatsApp allows only an approved template as the
#    first message unless the person wrote within 24 hours.
SESSION_BODY='{
  "liveChatId": "'"$LIVE_CHAT_ID"'",
  "operatorId": "op-17",
  "contact": { "name": "Ann", "phones": ["+49 151 23456789"] },
  "account": "+49 151 23456789",
  "message": { "template": { "name": "order_update", "language": "en_US", "parameters": ["Ann"] } }
}'
step "initiate a session" 201 -X POST "$BASE_URL/sessions" -H "$AUTH" -H "$JSON" -d "$SESSION_BODY"
SESSION_ID="$(field id)"

# 4. The same person again on the same live chat: refused, naming the open session.
step "initiate again: refused" 409 -X POST "$BASE_URL/sessions" -H "$AUTH" -H "$JSON" -d "$SESSION_BODY"

# 5. The session and its queued first message.
step "get the session" 200 "$BASE_URL/sessions/$SESSION_ID" -H "$AUTH"
step "list its messages" 200 "$BASE_URL/sessions/$SESSION_ID/messages" -H "$AUTH"

# 6. Close it, then reopen it for the same operator.
step "close the session" 200 -X POST "$BASE_URL/sessions/$SESSION_ID/close" -H "$AUTH" -H "$JSON" -d '{}'
step "reopen the session" 200 -X POST "$BASE_URL/sessions/$SESSION_ID/reopen" -H "$AUTH" -H "$JSON" -d '{ "operatorId": "op-17" }'

# 7. A customer writes first (here: the webhook WhatsApp would send, signed with the app
#    secret). Their message opens a session in the live chat's queue, with no operator yet.
NOW="$(date +%s)"
WA_BODY='{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
  "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
  "contacts":[{"profile":{"name":"Sheena"},"wa_id":"4915223456789"}],
  "messages":[{"from":"4915223456789","id":"wamid.walkthrough-'"$NOW"'","timestamp":"'"$NOW"'","type":"text","text":{"body":"Hello, is anyone there?"}}]}}]}]}'
SIGNATURE="sha256=$(printf '%s' "$WA_BODY" | openssl dgst -sha256 -hmac 'your-app-secret' | sed 's/^.* //')"
step "a customer writes first" 200 -X POST "$BASE_URL/webhooks/whatsapp/$LIVE_CHAT_ID" -H "$JSON" -H "X-Hub-Signature-256: $SIGNATURE" -d "$WA_BODY"

# 8. The queue: open sessions nobody has taken. The operator takes it and answers (free text is
#    fine: the customer wrote within the last 24 hours).
step "list the queue" 200 "$BASE_URL/sessions?liveChatId=$LIVE_CHAT_ID&unassigned=true&status=open" -H "$AUTH"
QUEUED_ID="$(field items.0.id)"
step "take it from the queue" 200 -X POST "$BASE_URL/sessions/$QUEUED_ID/assign" -H "$AUTH" -H "$JSON" -d '{ "operatorId": "op-17" }'
step "answer the customer" 202 -X POST "$BASE_URL/sessions/$QUEUED_ID/messages" -H "$AUTH" -H "$JSON" -d '{ "operatorId": "op-17", "text": "Hi Sheena, how can we help?" }'

echo
echo "Walkthrough complete: live chat $LIVE_CHAT_ID, session $SESSION_ID, taken from the queue $QUEUED_ID."
