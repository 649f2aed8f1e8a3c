package mailarchive.engine;

import org.elasticsearch.cluster.metadata.ProjectMetadata;
import org.elasticsearch.common.compress.CompressedXContent;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.index.IndexMode;
import org.elasticsearch.index.IndexSettingProvider;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.plugins.Plugin;

import java.time.Instant;
import java.util.Collection;
import java.util.List;

/**
 * Defaults for every index created on this node, below whatever a template or the request sets:
 * no replicas (one node cannot host them; the cluster stays green) and the refresh interval of
 * {@code mailarchive.engine.refresh_interval} (default 1s, Elasticsearch's own). The test suite
 * starts the node with a short interval: the store's {@code refresh=wait_for} writes then return
 * sooner, with the same semantics (visible when acknowledged), so tests do not idle for seconds.
 */
public final class IndexDefaultsPlugin extends Plugin {
    static final Setting<TimeValue> REFRESH_INTERVAL = Setting.timeSetting("mailarchive.engine.refresh_interval",
        TimeValue.timeValueSeconds(1), TimeValue.timeValueMillis(10), Setting.Property.NodeScope);

    private final TimeValue refreshInterval;

    public IndexDefaultsPlugin(Settings settings) {
        this.refreshInterval = REFRESH_INTERVAL.get(settings);
    }

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(REFRESH_INTERVAL);
    }

    @Override
    public Collection<IndexSettingProvider> getAdditionalIndexSettingProviders(IndexSettingProvider.Parameters parameters) {
        return List.of(new IndexSettingProvider() {
            @Override
            public void provideAdditionalSettings(String indexName, String dataStreamName, IndexMode templateIndexMode,
                                                  ProjectMetadata projectMetadata, Instant resolvedAt, Settings indexTemplateAndCreateRequestSettings,
                                                  List<CompressedXContent> combinedTemplateMappings, IndexVersion indexVersion,
                                                  Settings.Builder additionalSettings) {
                additionalSettings.put("index.number_of_replicas", 0);
                additionalSettings.put("index.refresh_interval", refreshInterval.getStringRep());
            }
        });
    }
}
