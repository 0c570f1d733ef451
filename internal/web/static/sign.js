// Server-side signing: ask for the transaction, show exactly what will be
// signed, get the passkey approval of it, then send it with the password.
'use strict';

(function () {
  function showError(msg) {
    const box = document.getElementById('passkey-error');
    box.textContent = msg;
    box.hidden = false;
    box.focus();
  }

  async function postJSON(url, body) {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) { throw new Error(data.error || ('The server answered ' + r.status)); }
    return data;
  }

  function showTransaction(plan) {
    document.getElementById('tx-key').textContent = plan.key;
    document.getElementById('tx-revision').textContent = String(plan.revision);
    const list = document.getElementById('tx-files');
    list.replaceChildren();
    for (const f of plan.files) {
      const li = document.createElement('li');
      li.textContent = f.path + ' (' + f.size + ' bytes, SHA-512 ' + f.sha512 + ')';
      list.appendChild(li);
    }
    document.getElementById('sign-transaction').hidden = false;
  }

  async function sign(form) {
    const paths = Array.from(form.querySelectorAll('input[name=path]:checked')).map(function (i) { return i.value; });
    if (paths.length === 0) { throw new Error('Choose at least one file.'); }
    // The password first: a wrong one is said before any passkey approval
    // is asked for (and spent).
    const pw = form.elements.password;
    pw.removeAttribute('aria-invalid');
    try {
      await postJSON(form.dataset.check, { key: form.elements.key.value, password: pw.value });
    } catch (err) {
      pw.setAttribute('aria-invalid', 'true');
      pw.setAttribute('aria-describedby', 'passkey-error');
      throw err;
    }
    const plan = await postJSON(form.dataset.begin, { key: form.elements.key.value, paths: paths, kind: form.elements.kind.value });
    showTransaction(plan);
    const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(plan.options) });
    const res = await postJSON(form.dataset.complete, { request: plan.request, password: form.elements.password.value, assertion: cred.toJSON() });
    window.location.assign(res.redirect);
  }

  document.addEventListener('DOMContentLoaded', function () {
    const form = document.getElementById('sign-form');
    if (!form) { return; }
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      showError('This browser does not support passkeys. Use a current browser.');
      return;
    }
    const button = form.querySelector('button');
    button.disabled = false;
    // Pre-select the files that lack the kind of signature chosen.
    form.querySelectorAll('input[name=kind]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        const has = radio.value === 'sigstore' ? 'hasBundle' : 'hasAsc';
        form.querySelectorAll('input[name=path]').forEach(function (box) { box.checked = box.dataset[has] !== 'true'; });
      });
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      button.disabled = true;
      sign(form).catch(function (err) {
        button.disabled = false;
        if (err && err.name === 'NotAllowedError') {
          showError('The passkey request was cancelled, timed out, or your authenticator could not verify you. Nothing was signed.');
        } else {
          showError(err && err.message ? err.message : String(err));
        }
      });
    });
  });
})();
