// Loaded first, alone: records script errors and console.error calls in the page itself
// (#errors), so they show without a developer console and in a headless browser's DOM dump.
// It is a separate script so that a syntax error in the main script is still caught.
(function () {
  'use strict';
  var errors = [];
  function show() {
    var el = document.getElementById('errors');
    if (el) {
      el.textContent = errors.join('\n');
    }
  }
  window.addEventListener('error', function (e) {
    var where = e.filename ? ' (line ' + e.lineno + ':' + e.colno + ')' : '';
    var what = e.message || (e.target && e.target.tagName ? 'cannot load a ' + e.target.tagName : e.type);
    errors.push('error: ' + what + where);
    show();
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled rejection: ' + e.reason);
    show();
  });
  var original = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    show();
    original.apply(console, arguments);
  };
  document.addEventListener('DOMContentLoaded', show);
})();
