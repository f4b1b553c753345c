// The local sign-in page: a token is exchanged for an HttpOnly session cookie (the page never keeps it).

const form = document.getElementById("signin-form");
const error = document.getElementById("signin-error");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const token = document.getElementById("signin-token").value.trim();
  const response = await fetch("/auth/session", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", Accept: "application/json", "X-AMP-Request": "1"},
    body: JSON.stringify({token}),
  }).catch((err) => ({ok: false, json: async () => ({error: {message: "The server cannot be reached: " + err.message}})}));
  if (response.ok) {
    window.location.assign("/");
    return;
  }
  const body = await response.json().catch(() => null);
  error.textContent = (body && body.error && body.error.message) || "Sign-in failed.";
  error.hidden = false;
});
