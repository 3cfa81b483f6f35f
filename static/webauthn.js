// Portcullis pages work without JavaScript except here: WebAuthn exists only as a browser
// API. A form marked data-webauthn="get" (sign in) or "create" (register) holds the
// ceremony's options in #webauthn-options; this script runs the ceremony and posts the
// answer in the form's "credential" field. The server checks everything.
(function () {
  "use strict";
  var form = document.querySelector("form[data-webauthn]");
  var data = document.getElementById("webauthn-options");
  if (!form || !data || !window.PublicKeyCredential) { return; }
  var options = JSON.parse(data.textContent);
  var b64 = {
    decode: function (s) {
      s = s.replace(/-/g, "+").replace(/_/g, "/");
      while (s.length % 4) { s += "="; }
      var bin = atob(s), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
      return out.buffer;
    },
    encode: function (buf) {
      var bytes = new Uint8Array(buf), bin = "";
      for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }
  };
  function publicKey(o) {
    var pk = o.publicKey;
    pk.challenge = b64.decode(pk.challenge);
    if (pk.user) { pk.user.id = b64.decode(pk.user.id); }
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64.decode(c.id); });
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64.decode(c.id); });
    return pk;
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: b64.encode(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: b64.encode(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = b64.encode(r.authenticatorData);
      out.response.signature = b64.encode(r.signature);
      out.response.userHandle = r.userHandle ? b64.encode(r.userHandle) : null;
    }
    form.querySelector("input[name=credential]").value = JSON.stringify(out);
    form.submit();
  }
  var kind = form.getAttribute("data-webauthn");
  var button = document.getElementById("passkey-button");
  var pending = null;
  function run(mediation) {
    var o = JSON.parse(data.textContent);
    var request = { publicKey: publicKey(o) };
    if (kind === "create") {
      return navigator.credentials.create(request).then(answer);
    }
    if (mediation) { request.mediation = mediation; }
    if (pending) { pending.abort(); }
    pending = new AbortController();
    request.signal = pending.signal;
    return navigator.credentials.get(request).then(function (c) { if (c) { answer(c); } });
  }
  function quiet() {}
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () { run(null).catch(quiet); });
  }
  // Conditional mediation: the browser offers passkeys in the username field's autofill.
  if (form.getAttribute("data-mediation") === "conditional" &&
      PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok) { run("conditional").catch(quiet); }
    });
  }
  void options;
}());
