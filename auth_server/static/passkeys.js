// Passkeys on the hosted pages. A form marked data-passkey ("register", "signin" or "mfa") is
// shown only where the browser has WebAuthn. Its submit asks data-options for the
// ceremony's options (a post carrying the form's CSRF token), runs the browser's WebAuthn
// call, puts the credential's JSON in the hidden `credential` field and sends the form.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  }

  function toBase64url(buffer) {
    const binary = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));
  }

  async function create(options) {
    const credential = await navigator.credentials.create({
      publicKey: {
        ...options,
        challenge: toBytes(options.challenge),
        user: { ...options.user, id: toBytes(options.user.id) },
        excludeCredentials: descriptors(options.excludeCredentials),
      },
    });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
    };
  }

  async function get(options) {
    const credential = await navigator.credentials.get({
      publicKey: {
        ...options,
        challenge: toBytes(options.challenge),
        allowCredentials: descriptors(options.allowCredentials),
      },
    });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
    };
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const failed = form.querySelector("[data-passkey-error]");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      failed.hidden = true;
      try {
        const answer = await fetch(form.dataset.options, {
          method: "POST",
          // URL-encoded, as the forms post (the server takes no multipart bodies).
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
        });
        if (!answer.ok) {
          throw new Error(`options: ${answer.status}`);
        }
        const options = (await answer.json()).data;
        const ceremony = form.dataset.passkey === "register" ? create : get;
        form.elements.credential.value = JSON.stringify(await ceremony(options));
      } catch (error) {
        // Cancelled, timed out, or no passkey here: the page says so, the form stays.
        failed.hidden = false;
        return;
      }
      // The real post (submit() fires no submit event, so this handler is not run again).
      form.submit();
    });
  }
})();
