// Posts the login form to the REST API; the answer sets the login cookies.
document.getElementById("login-form").addEventListener("submit", async function (event) {
  event.preventDefault();
  var message = document.getElementById("login-message");
  message.textContent = "";
  var response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    }),
  });
  if (response.ok) {
    var body = await response.json();
    if (body.password_expired) {
      message.textContent = "Your password has expired: change it through the API (POST /api/v1/auth/password).";
      return;
    }
    window.location.assign("/");
    return;
  }
  var problem = await response.json().catch(function () { return {}; });
  message.textContent = problem.detail || "Login failed";
});
