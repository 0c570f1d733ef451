// Upload progress for trel. Without this script the form is a plain
// multipart POST that the server answers with a redirect; with it, the same
// request is sent by XMLHttpRequest so that a progress bar can be shown.
'use strict';

(function () {
  document.addEventListener('DOMContentLoaded', function () {
    const form = document.getElementById('upload-form');
    if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
    const box = document.getElementById('upload-progress');
    const bar = box.querySelector('progress');
    const label = document.getElementById('upload-status');
    const err = document.getElementById('upload-error');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      err.hidden = true;
      box.hidden = false;
      const xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable) {
          bar.max = e.total;
          bar.value = e.loaded;
          label.textContent = Math.floor(100 * e.loaded / e.total) + '% sent';
        }
      });
      xhr.upload.addEventListener('load', function () { label.textContent = 'Sent; the server is storing and hashing the files…'; });
      xhr.addEventListener('load', function () {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && data.redirect) {
          window.location.assign(data.redirect);
          return;
        }
        button.disabled = false;
        box.hidden = true;
        err.textContent = (data.error || ('The upload failed (' + xhr.status + ').')) + ' Nothing changed in the release.';
        err.hidden = false;
      });
      xhr.addEventListener('error', function () {
        button.disabled = false;
        box.hidden = true;
        err.textContent = 'The upload failed: the connection was lost. Nothing changed in the release (a revision is made only once every file arrived): press Upload again to send the same files.';
        err.hidden = false;
      });
      xhr.send(new FormData(form));
    });
  });
})();
