// Logs out through the REST API, sending the CSRF token from its cookie.
document.getElementById("logout").addEventListener("click", async function () {
  var match = document.cookie.match(/(?:^|; )meterhub_csrf=([^;]*)/);
  await fetch("/api/v1/auth/logout", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": match ? decodeURIComponent(match[1]) : "" },
  });
  window.location.assign("/login");
});
