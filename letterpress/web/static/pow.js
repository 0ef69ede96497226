/* letterpress: solves the signup form's proof-of-work challenge (ALTCHA protocol, v1).
 *
 * Find N <= max with SHA-256(salt + N) === challenge, then put the solution in the form's
 * "altcha" field as base64 JSON {algorithm, challenge, number, salt, signature}.  Runs while
 * the reader types; a submit before it is done waits for it.  No cookie, no request to any
 * other site.  Without this script (or without Web Crypto) the form still works: the server
 * then accepts it once the page has been shown for a few seconds.
 */
(function () {
  "use strict";
  var form = document.querySelector("form[data-pow-challenge]");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    return;
  }
  var data = form.dataset;
  var field = form.querySelector("input[name=altcha]");
  var status = document.getElementById("pow-status");
  var encoder = new TextEncoder();
  var submitting = false;
  var BATCH = 500;

  function say(key) {
    if (status) {
      status.textContent = status.getAttribute("data-" + key);
    }
  }

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  function digest(n) {
    return window.crypto.subtle.digest("SHA-256", encoder.encode(data.powSalt + n))
      .then(function (buffer) { return hex(buffer) === data.powChallenge ? n : -1; });
  }

  function search(start, max) {
    if (start > max) {
      return Promise.resolve(-1);
    }
    var batch = [];
    for (var n = start; n <= Math.min(max, start + BATCH - 1); n++) {
      batch.push(digest(n));
    }
    return Promise.all(batch).then(function (found) {
      for (var i = 0; i < found.length; i++) {
        if (found[i] >= 0) {
          return found[i];
        }
      }
      return search(start + BATCH, max);
    });
  }

  form.addEventListener("submit", function (event) {
    if (!field.value) {
      event.preventDefault();
      submitting = true;
      say("waiting");
    }
  });

  say("solving");
  search(0, parseInt(data.powMax, 10)).then(function (number) {
    if (number < 0) {
      return;  // not found: the server's no-JavaScript path still applies
    }
    field.value = window.btoa(JSON.stringify({
      algorithm: data.powAlgorithm, challenge: data.powChallenge, number: number,
      salt: data.powSalt, signature: data.powSignature
    }));
    say("done");
    if (submitting) {
      form.submit();
    }
  });
}());
