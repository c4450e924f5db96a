// A Node client of the example, with the npm "centrifuge" client and the
// "ws" package (Node 20 has no global WebSocket). It logs in, joins
// room:node, publishes and waits for its own message, starts a job and
// waits for its completion on the user channel, then prints OK.
// Usage: node client.js http://127.0.0.1:PORT
"use strict";
const { Centrifuge } = require("centrifuge");
const WebSocket = require("ws");

const base = process.argv[2];
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
setTimeout(() => fail("timed out"), 20000);

async function login(name) {
  const r = await fetch(base + "/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({name})});
  if (!r.ok) fail("login " + r.status);
  return (await r.json()).access_token;
}

(async () => {
  const token = await login("nodeuser");
  const client = new Centrifuge(base.replace("http", "ws") + "/connection/websocket", {
    websocket: WebSocket, token, getToken: () => login("nodeuser"),
  });
  let echoed = false, done = false;
  const finish = () => { if (echoed && done) { console.log("OK"); client.disconnect(); process.exit(0); } };
  client.on("publication", (ctx) => {
    if (ctx.data.type === "job" && ctx.data.job.status === "succeeded") { done = true; finish(); }
  });
  const sub = client.newSubscription("room:node");
  sub.on("publication", (ctx) => {
    if (ctx.data.text === "from node" && ctx.info && ctx.info.user === "nodeuser") { echoed = true; finish(); }
  });
  sub.on("subscribed", async () => {
    await sub.publish({text: "from node"});
    const r = await fetch(base + "/jobs", {method: "POST", headers: {Authorization: "Bearer " + token}});
    if (r.status !== 202) fail("jobs " + r.status);
  });
  sub.on("error", (ctx) => fail("subscription: " + JSON.stringify(ctx)));
  client.on("error", (ctx) => fail("client: " + JSON.stringify(ctx)));
  sub.subscribe();
  client.connect();
})().catch((e) => fail(String(e)));
