// The sign-in page: password, invite token, or anonymous (with the group code of the link).
async function go(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                              body: JSON.stringify(body), credentials: "same-origin"});
  if (r.ok) { window.location.href = "./"; return; }
  let msg = "Sign-in failed";
  try { msg = (await r.json()).detail || msg; } catch (e) {}
  document.getElementById("err").textContent = msg;
}
document.getElementById("login").addEventListener("submit", e => { e.preventDefault();
  go("api/login", {username: document.getElementById("username").value,
                   password: document.getElementById("password").value}); });
document.getElementById("invite").addEventListener("submit", e => { e.preventDefault();
  go("api/invite", {token: document.getElementById("token").value}); });
const anon = document.getElementById("anon");
if (anon) anon.addEventListener("click", () =>
  go("api/anonymous", {code: new URLSearchParams(window.location.search).get("code") || ""}));
