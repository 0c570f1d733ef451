// Progressive enhancements on every trel page. Everything here is optional:
// without this script the pages work as they are (copy by selecting the
// text, a <noscript> meta refresh instead of live updates, confirmations
// opened and submitted as plain forms).
'use strict';

(function () {
  // A polite live region that tells screen readers what just happened.
  function say(msg) {
    let box = document.getElementById('app-status');
    if (!box) {
      box = document.createElement('div');
      box.id = 'app-status';
      box.className = 'visually-hidden';
      box.setAttribute('role', 'status');
      document.body.appendChild(box);
    }
    box.textContent = '';
    window.setTimeout(function () { box.textContent = msg; }, 50);
  }

  // Copy buttons: <button class="copy" data-copy="ELEMENT-ID" hidden>.
  function copyButtons(root) {
    root.querySelectorAll('button.copy[data-copy]').forEach(function (b) {
      b.hidden = false;
      b.addEventListener('click', function () {
        const el = document.getElementById(b.dataset.copy);
        if (!el) { return; }
        const text = el.textContent.trim();
        const done = function () {
          const old = b.textContent;
          b.textContent = 'Copied';
          say('Copied to the clipboard');
          window.setTimeout(function () { b.textContent = old; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { select(el); });
        } else {
          select(el);
          try { if (document.execCommand('copy')) { done(); } } catch (e) { /* the text stays selected */ }
        }
      });
    });
  }

  function select(el) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // Confirmations (<details class="confirm">): opening one moves the focus
  // to its button; Escape closes it and gives the focus back.
  function confirmations(root) {
    root.querySelectorAll('details.confirm').forEach(function (d) {
      d.addEventListener('toggle', function () {
        if (d.open) {
          const first = d.querySelector('input:not([type=hidden]), button[type=submit]');
          if (first) { first.focus(); }
        }
      });
      d.addEventListener('keydown', function (ev) {
        if (ev.key === 'Escape' && d.open) {
          d.open = false;
          d.querySelector('summary').focus();
        }
      });
    });
  }

  // Live updates: a page with <body data-refresh="N"> fetches itself every
  // N seconds and replaces its [data-live] parts (same id) while the user
  // is not inside them, until the new page no longer asks for refresh.
  function live() {
    const every = parseInt(document.body.dataset.refresh || '0', 10);
    if (!every || !window.fetch || !window.DOMParser) { return; }
    const tick = async function () {
      let doc;
      try {
        const r = await fetch(window.location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } });
        if (!r.ok) { throw new Error(String(r.status)); }
        doc = new DOMParser().parseFromString(await r.text(), 'text/html');
      } catch (e) {
        window.setTimeout(tick, every * 2000);
        return;
      }
      document.querySelectorAll('[data-live]').forEach(function (el) {
        const fresh = el.id && doc.getElementById(el.id);
        if (!fresh || el.contains(document.activeElement)) { return; }
        el.innerHTML = fresh.innerHTML;
        copyButtons(el);
        confirmations(el);
      });
      const still = parseInt(doc.body.dataset.refresh || '0', 10);
      if (still) {
        window.setTimeout(tick, still * 1000);
      } else {
        delete document.body.dataset.refresh;
        say('The checks are done; the page is up to date.');
      }
    };
    window.setTimeout(tick, every * 1000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    copyButtons(document);
    confirmations(document);
    live();
  });
})();
