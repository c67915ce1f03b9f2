// Vigil console: keyboard shortcuts and the live stream. Every page works
// without this script except the live stream.
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.alert-row")); }

  var selected = -1;
  function select(i) {
    var rs = rows();
    if (!rs.length) return;
    i = Math.max(0, Math.min(rs.length - 1, i));
    if (selected >= 0 && rs[selected]) rs[selected].classList.remove("selected");
    selected = i;
    rs[i].classList.add("selected");
    rs[i].scrollIntoView({ block: "nearest" });
  }

  function help(show) {
    var h = document.getElementById("help");
    if (h) h.hidden = show === undefined ? !h.hidden : !show;
  }

  // post submits a one-field action form for an alert in the queue.
  function post(action, id, version) {
    var csrf = document.body.getAttribute("data-csrf");
    if (!csrf) return;
    var f = document.createElement("form");
    f.method = "post";
    f.action = "/console/alerts/" + id + "/" + action;
    [["csrf", csrf], ["version", version], ["back", location.pathname + location.search]].forEach(function (kv) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") { help(false); if (typing(e)) e.target.blur(); return; }
    if (typing(e)) return;
    var rs = rows(), row = selected >= 0 ? rs[selected] : null;
    switch (e.key) {
      case "?": help(); break;
      case "j": select(selected + 1); break;
      case "k": select(selected < 0 ? 0 : selected - 1); break;
      case "o": case "Enter": if (row) location.href = row.getAttribute("data-href"); else return; break;
      case "x": if (row) { var cb = row.querySelector("input[type=checkbox]"); if (cb) cb.checked = !cb.checked; } break;
      case "/": var f = document.getElementById("f-entity") || document.querySelector("main input:not([type=hidden])"); if (f) f.focus(); break;
      case "a":
        if (row) { post("ack", row.getAttribute("data-id"), row.getAttribute("data-version")); break; }
        var ack = document.getElementById("ack"); if (ack) ack.click(); else return; break;
      case "r":
        if (row) { location.href = row.getAttribute("data-href") + "#resolve-form"; break; }
        var res = document.getElementById("resolution"); if (res) { res.scrollIntoView({ block: "center" }); res.focus(); } else return; break;
      default: return;
    }
    e.preventDefault();
  });

  // The live page follows the stream.
  function live() {
    var state = document.getElementById("live-state"), body = document.getElementById("live-body");
    if (!state || !body || !window.EventSource) return;
    var src = new EventSource(state.getAttribute("data-stream"));
    src.addEventListener("open", function () { state.textContent = "Following live decisions."; });
    src.addEventListener("error", function () { state.textContent = "Stream interrupted; reconnecting…"; });
    src.addEventListener("dropped", function (ev) { state.textContent = ev.data + " decisions not shown (rate limit)."; });
    src.addEventListener("decision", function (ev) {
      var d; try { d = JSON.parse(ev.data); } catch (err) { return; }
      var tr = document.createElement("tr");
      var hits = document.createElement("td");
      (d.hits || []).forEach(function (h) {
        var s = document.createElement("span");
        s.className = "sev sev-" + h.severity;
        s.textContent = h.rule + (h.shadow ? " (shadow)" : "");
        hits.appendChild(s); hits.appendChild(document.createTextNode(" "));
      });
      [new Date(d.ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"), d.record_id, d.type || "", d.action, String(d.score)].forEach(function (text, i) {
        var td = document.createElement("td");
        if (i === 1) { var c = document.createElement("code"); c.textContent = text; td.appendChild(c); } else td.textContent = text;
        if (i === 4) td.className = "num";
        tr.appendChild(td);
      });
      tr.appendChild(hits);
      body.insertBefore(tr, body.firstChild);
      while (body.children.length > 200) body.removeChild(body.lastChild);
    });
  }
  document.addEventListener("DOMContentLoaded", live);
})();
