// The reset link carries its token in the URL fragment, which browsers never send to a
// server (so it stays out of access logs and Referer headers): move it into the form's
// hidden field, then take it out of the address bar and the history.
"use strict";
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    document.getElementById("token").value = token;
    history.replaceState(null, "", location.pathname);
  }
})();
