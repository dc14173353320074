// Links with a token (password reset, invitation) carry it in the URL fragment, which
// browsers never send to a server (so it stays out of access logs and Referer headers):
// move it into the page's hidden token fields, then take it out of the address bar and the
// history. A form marked data-autosubmit (the invitation's review) is then sent at once.
"use strict";
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!token) {
    return;
  }
  for (const field of document.querySelectorAll('input[name="token"]')) {
    field.value = token;
  }
  history.replaceState(null, "", location.pathname);
  const form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
})();
