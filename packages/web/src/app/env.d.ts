/** esbuild bundles imported stylesheets into app.css; the import itself yields nothing. */
declare module '*.css';
