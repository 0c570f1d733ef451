// Passkey ceremonies for trel. The server sends go-webauthn's JSON options;
// the browser's own JSON helpers turn them into WebAuthn calls and back.
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
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      throw new Error(data.error || ('The server answered ' + r.status));
    }
    return data;
  }

  async function signIn() {
    const opts = await postJSON('/login/begin');
    const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(opts) });
    const res = await postJSON('/login/finish', cred.toJSON());
    window.location.assign(res.redirect || '/');
  }

  async function register(beginURL, name) {
    const opts = await postJSON(beginURL, { name: name });
    const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts) });
    const res = await postJSON('/passkeys/finish', cred.toJSON());
    window.location.assign(res.redirect || '/');
  }

  function run(button, fn) {
    button.disabled = true;
    fn().catch(function (err) {
      button.disabled = false;
      if (err && err.name === 'InvalidStateError') {
        showError('This authenticator already holds a passkey for your account: use another one.');
      } else if (err && err.name === 'NotAllowedError') {
        showError('The passkey request was cancelled, timed out, or your authenticator could not verify you.');
      } else {
        showError(err && err.message ? err.message : String(err));
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      const box = document.getElementById('passkey-error');
      if (box) { showError('This browser does not support passkeys. Use a current browser.'); }
      return;
    }
    const signin = document.getElementById('passkey-signin');
    if (signin) {
      signin.hidden = false;
      signin.addEventListener('click', function (ev) { ev.preventDefault(); run(signin, signIn); });
    }
    const form = document.getElementById('passkey-register');
    if (form) {
      const button = form.querySelector('button');
      button.disabled = false;
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        run(button, function () { return register(form.dataset.begin, form.elements.name.value); });
      });
    }
  });
})();
