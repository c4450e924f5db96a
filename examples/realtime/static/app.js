// The page's client code: plain JavaScript over the npm "centrifuge"
// client (global Centrifuge from centrifuge.js).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let token = "", client = null, sub = null;

  async function login(name) {
    const r = await fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({name})});
    if (!r.ok) throw new Error("login: " + r.status);
    return (await r.json()).access_token;
  }

  function line(text) {
    const div = document.createElement("div");
    div.textContent = text;
    $("messages").appendChild(div);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  async function refreshPresence() {
    if (!sub) return;
    const r = await sub.presence();
    const names = [...new Set(Object.values(r.clients).map((c) => c.user))].sort();
    $("presence").replaceChildren(...names.map((n) => { const li = document.createElement("li"); li.textContent = n; return li; }));
  }

  $("login").onclick = async () => {
    const name = $("name").value.trim();
    token = await login(name);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    client = new Centrifuge(proto + "//" + location.host + "/connection/websocket", {
      token,
      // An expired token is refreshed with a new login (a real app would
      // use its refresh token).
      getToken: () => login(name).then((t) => (token = t)),
    });
    client.on("state", (ctx) => { $("state").textContent = ctx.newState; });
    client.on("connected", () => { $("join").disabled = false; $("job").disabled = false; });
    // Server-side subscription: the user channel, where job events arrive.
    client.on("publication", (ctx) => {
      const m = ctx.data;
      if (m && m.type === "job") {
        if (m.job.status === "progress") {
          $("progress").value = m.job.progress;
          $("job-status").textContent = "progress " + m.job.progress + "%";
        } else {
          if (m.job.status === "succeeded") $("progress").value = 100;
          $("job-status").textContent = m.job.status;
        }
      }
    });
    client.connect();
  };

  $("join").onclick = () => {
    if (sub) { sub.unsubscribe(); client.removeSubscription(sub); }
    sub = client.newSubscription("room:" + $("room").value.trim(), {joinLeave: true, recoverable: true, positioned: true});
    sub.on("publication", (ctx) => line((ctx.info ? ctx.info.user : "server") + ": " + ctx.data.text));
    sub.on("join", refreshPresence);
    sub.on("leave", refreshPresence);
    sub.on("subscribed", () => { $("text").disabled = false; $("send").disabled = false; refreshPresence(); });
    sub.subscribe();
  };

  $("send").onclick = async () => {
    const text = $("text").value;
    if (!text) return;
    await sub.publish({text});
    $("text").value = "";
  };

  $("job").onclick = async () => {
    $("progress").value = 0;
    $("job-status").textContent = "started";
    const r = await fetch("/jobs", {method: "POST", headers: {Authorization: "Bearer " + token}});
    if (!r.ok) $("job-status").textContent = "could not start: " + r.status;
  };
})();
