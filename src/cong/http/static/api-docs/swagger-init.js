// Swagger UI for this server's /api/openapi.json (assets served by the gateway itself).
// Signed in on the web pages, "Try it out" uses the session cookie and sends the
// session's CSRF token on state-changing requests; otherwise use "Authorize" with a key.
(function () {
  "use strict";
  let csrf = null;
  fetch("/api/session", { credentials: "same-origin" })
    .then((response) => response.json())
    .then((session) => { csrf = session.csrf_token || null; })
    .catch(() => {});
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: (request) => {
      const method = (request.method || "GET").toUpperCase();
      if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method)) {
        request.headers["X-CSRF-Token"] = csrf;
      }
      return request;
    },
  });
})();
