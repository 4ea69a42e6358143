// Starts Swagger UI on the OpenAPI document; a script file, as the content security policy
// allows no inline script.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    withCredentials: true,
    validatorUrl: null, // no badge fetched from elsewhere: the page works offline
  });
});
