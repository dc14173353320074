// Starts Swagger UI. A file of its own, not an inline script, so that the page's
// Content-Security-Policy can allow scripts from this server only ('self').
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  // The default sends the schema to a third-party validator; nothing leaves this origin.
  validatorUrl: null,
});
