/* Tack — the browser side of the REST API, shared by every page script.
 *
 * TackApi.request(url, options, messages) sends JSON (or a FormData as options.form)
 * with the session cookie and the CSRF header, and resolves with the parsed answer
 * (null for 204). A failure rejects with a TackApi.ApiError carrying the status and the
 * error envelope {code, message, fields}; messages.error / messages.network are shown
 * when the server gave no message or could not be reached.
 */
(function () {
  "use strict";

  function ApiError(message, status, data) {
    this.message = message;
    this.status = status;
    this.data = data;
    this.code = data && data.error ? data.error.code : "";
    this.fields = (data && data.error && data.error.fields) || {};
  }

  function cookie(name) {
    var found = document.cookie.split("; ").find(function (part) {
      return part.indexOf(name + "=") === 0;
    });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function request(url, options, messages) {
    options = options || {};
    messages = messages || {};
    var method = options.method || "GET";
    var headers = { Accept: "application/json" };
    var body;
    if (options.form) {
      body = options.form;
    } else if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
    return fetch(url, { method: method, headers: headers, body: body, credentials: "same-origin" }).then(
      function (response) {
        if (response.status === 204) return null;
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (!response.ok) {
              var message = data && data.error && data.error.message;
              throw new ApiError(message || messages.error || "", response.status, data);
            }
            return data;
          });
      },
      function () {
        throw new ApiError(messages.network || messages.error || "", 0, null);
      }
    );
  }

  function results(data) {
    return Array.isArray(data) ? data : (data && data.results) || [];
  }

  window.TackApi = { ApiError: ApiError, cookie: cookie, request: request, results: results };
})();
