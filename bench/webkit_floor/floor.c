/* The memory floor of any app on WebKitGTK: one GTK window holding one web view showing one page, nothing
 * else (no IPC, no app code). scripts/bench_app.py measures it beside Quire's desktop app in the same run.
 *
 *   floor [URI]     URI defaults to about:blank; the window is the size of Quire's (1200 x 800).
 */
#include <gtk/gtk.h>
#include <webkit2/webkit2.h>

int main(int argc, char **argv) {
  gtk_init(&argc, &argv);
  GtkWidget *window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_title(GTK_WINDOW(window), "WebKitGTK floor");
  gtk_window_set_default_size(GTK_WINDOW(window), 1200, 800);
  GtkWidget *view = webkit_web_view_new();
  gtk_container_add(GTK_CONTAINER(window), view);
  g_signal_connect(window, "destroy", G_CALLBACK(gtk_main_quit), NULL);
  webkit_web_view_load_uri(WEBKIT_WEB_VIEW(view), argc > 1 ? argv[1] : "about:blank");
  gtk_widget_show_all(window);
  gtk_main();
  return 0;
}
