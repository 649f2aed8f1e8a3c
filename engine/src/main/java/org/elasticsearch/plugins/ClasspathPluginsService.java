package org.elasticsearch.plugins;

import org.elasticsearch.Version;
import org.elasticsearch.common.settings.Settings;

import java.util.ArrayList;
import java.util.List;

/**
 * Plugins that are plain classes on the launcher's class path instead of bundles unpacked under
 * {@code plugins/} or {@code modules/} of an installation (there is no installation: the jars come
 * from Maven Central). It lives in this package because the constructor of a loaded plugin, the
 * plugin factory and the extension loader are package-private in the server.
 */
public final class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Settings settings, PluginsLoader loader, List<Class<? extends Plugin>> classes) {
        super(settings, null, loader);
        List<LoadedPlugin> plugins = new ArrayList<>();
        ClassLoader classLoader = ClasspathPluginsService.class.getClassLoader();
        for (Class<? extends Plugin> type : classes) {
            PluginDescriptor descriptor = new PluginDescriptor(type.getName(), "on the class path of the mailarchive engine",
                Version.CURRENT.toString(), Version.CURRENT.toString(), "21", type.getName(), null, List.of(),
                false, false, false, false, PluginDescriptor.DeploymentTarget.ALL);
            plugins.add(new LoadedPlugin(descriptor, loadPlugin(type, settings, null), classLoader));
        }
        loadExtensions(plugins);
        this.loaded = List.copyOf(plugins);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }
}
